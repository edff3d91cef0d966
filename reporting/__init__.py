"""The reporting layer: turns a finished, stopped or failed run into one run record and renders
it. Every line a run prints at its end, and every file of its report, comes from here.

Reading (a run -> its record, schemas/run_record.py's RunRecord, run_summary.json's content):
  executions.py    the run's executions (each stage ran, cached from which run, failed) and
                   artifacts: from MLMD, or as an orchestrator hands them over (Kubeflow task
                   inputs, tools.spec_runner's outputs)
  readers.py       what each component wrote: ingest report, drift, training log, push, TFLite
  evaluation.py    TFMA's results: accuracy, per-class figures, confusion matrix, gates
  class_metrics.py per-class counts, intervals and small-class warnings
  advice.py        the likely cause of an accuracy near chance
  predictions.py   every image of the gated split through the model: predictions.csv
  inference.py     batch inference (--infer-dir): BulkInferrer's PredictionLogs as a CSV
  to_label.py      what to label next: the scored files, least confident first, as a manifest
  prediction_drift.py  the predicted classes against the previous inference run's (runs/)
  label_issues.py  likely label errors: cleanlab on out-of-sample probabilities
  build.py         the record's one builder, for every way a run ends (RunContext: what a
                   run was given)
  outcome.py       how the run's process saw it end (statuses and exit codes: schemas/)
  finish.py        finish_run: the end of every run (local_runner, tools.spec_runner, RunReport)

Rendering (the record -> text and pictures; they read only the record):
  run_text.py      what the run did as lines (span, training, baseline, serving), for both
  console_text.py  the console summary
  card.py          model card and per-class table (Markdown, escaped by escape.py)
  plots.py         confusion matrix (counts and shares), training curves, calibration
  explanations.py  Grad-CAM and misclassified galleries
  publish.py       the report folder(s)

component.py / executor.py: RunReport, the same record as Kubeflow / Vertex AI artifacts.

Layering (tests/layers_test.py): runners -> pipeline -> reporting -> components ->
trainer_module -> schemas; this package imports no pipeline/ module.
"""
