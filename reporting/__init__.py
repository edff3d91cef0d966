"""The reporting layer: turns a finished, stopped or failed run into one run record and renders
it. Every line a run prints at its end, and every file of its report, comes from here.

Reading (a run -> its record, run_summary.json's content):
  record.py        the run's executions and artifacts: from MLMD, or as an orchestrator hands
                   them over (Kubeflow task inputs, tools.spec_runner's outputs)
  readers.py       what each component wrote: ingest report, drift, training log, push, TFLite
  evaluation.py    TFMA's results: accuracy, per-class figures, confusion matrix, gates
  class_metrics.py per-class counts, intervals and small-class warnings
  advice.py        the likely cause of an accuracy near chance
  predictions.py   every image of the gated split through the model: predictions.csv
  inference.py     batch inference (--infer-dir): BulkInferrer's PredictionLogs as a CSV
  summary.py       the record assembled (RunContext: what a run was given)
  outcome.py       how the run ended: status and exit status
  finish.py        finish_run: the end of every run (local_runner, tools.spec_runner, RunReport)

Rendering (the record -> text and pictures; they read only the summary):
  console_text.py  the console summary
  schedule_text.py spans, drift, warm start and regression as text
  card.py          model card and per-class table (Markdown, escaped by escape.py)
  plots.py         confusion matrix, training curves, calibration
  explanations.py  Grad-CAM and misclassified galleries
  publish.py       the report folder(s)

component.py / executor.py: RunReport, the same record as Kubeflow / Vertex AI artifacts.

Layering (tests/layers_test.py): runners -> pipeline -> reporting -> components ->
trainer_module; this package imports no pipeline/ module.
"""
