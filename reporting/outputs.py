"""What a run's stages wrote, read into its record: the builder's (reporting/build.py) part
that needs TensorFlow and TFMA, imported only for a run with outputs to read."""

from typing import Any, Dict, Optional

from reporting import advice, class_metrics, evaluation, inference, readers
from reporting.outcome import Outcome
from schemas import filenames, nodes, properties
from schemas.outcomes import Status
from schemas.run_record import LabelIssues, ModelRef, RunRecord, Serving


def gather(record: RunRecord, context, run, end: Outcome) -> None:
  """Ingestion, training, evaluation, the gates, the push, the exports and inference as the run's
  stages wrote them (as far as they got), and DriftCheck's block."""
  examples = run.output(nodes.EXAMPLE_GEN, "examples") if run else None
  if examples is not None and end.status is not Status.INPUT_ERROR:
    record.add_ingest(readers.ingest_report(examples))
    record.data_dir = readers.data_dir(context.data_dir, run.executions.get(nodes.EXAMPLE_GEN))
    record.examples_path = examples.uri
    record.spans = readers.window_spans(run, record.span)
    record.drift = readers.drift(run)
    _train_and_gate(record, context, run)
  elif end.input_report:
    record.add_ingest(end.input_report)
  if end.drift_report is not None:
    blocked(record, end.drift_report)


def _train_and_gate(record: RunRecord, context, run) -> None:
  """What the stages after ingestion wrote: classes, anomalies, training, evaluation and its
  gates, the serving check, the push, TFLite, out-of-fold probabilities, inference."""
  transform_graph = run.output(nodes.TRANSFORM, "transform_graph")
  if transform_graph:
    record.classes = readers.class_names(transform_graph.uri)
  anomalies = run.output(nodes.EXAMPLE_VALIDATOR, "anomalies")
  record.anomalies = readers.anomalies(anomalies.uri) if anomalies else {}
  model_run, model = run.output(nodes.TRAINER, "model_run"), run.output(nodes.TRAINER, "model")
  record.training = readers.training(model_run.uri) if model_run else {}
  record.model_path = model.uri if model else None
  split = filenames.gate_split(record.splits)
  evaluated = run.output(nodes.EVALUATOR, "evaluation")
  if evaluated:
    baseline = run.input(nodes.EVALUATOR, "baseline_model")
    record.metrics = evaluation.evaluation_metrics(
      evaluated.uri, record.classes, baseline.uri if baseline else None
    )
    record.metrics["split"] = split
    record.thresholds = evaluation.thresholds(evaluated.uri)
    record.failed_gates = evaluation.failed_gates(evaluated.uri, record.classes, split)
  bounds = record.thresholds
  gated = bounds["min_class_recall"] > 0 or bounds["min_class_precision"] > 0
  record.metric_warnings = class_metrics.warnings(record.metrics.get("per_class", {}), gated, split)
  record.serving_check = readers.serving_check(run.output(nodes.SERVING_CHECK, "blessing"))
  record.failed_gates += readers.serving_failures(record.serving_check)
  record.advice = advice.near_chance(record.metrics, record.training, record.splits.get("train", 0))
  record.blessed = (
    readers.int_property(run.output(nodes.EVALUATOR, "blessing"), properties.BLESSED) == 1
  )
  pushed = run.output(nodes.PUSHER, "pushed_model")
  push = readers.pushed_model(pushed)
  record.pushed_model_path = push["pushed_model_path"]
  record.pushed_version = push["pushed_version"]
  record.push_error = push.get("push_error")
  record.pushed_regression = regression(record.metrics, push)
  export = run.output(nodes.TFLITE_EXPORT, "tflite_model")
  record.tflite = readers.export_block(export, pushed, "tflite")
  record.onnx = readers.export_block(export, pushed, "onnx")
  out_of_fold = run.output(nodes.LABEL_ISSUES, "model_run")
  if out_of_fold:  # found by the report (reporting/label_issues.py)
    record.label_issues = LabelIssues(out_of_fold=out_of_fold.uri)
  infer_examples = run.output(nodes.INFERENCE_EXAMPLE_GEN, "examples")
  if infer_examples:
    record.inference = inference.block(run, push, readers.ingest_report(infer_examples))


def regression(metrics: Dict[str, Any], push: Dict[str, Any]) -> Optional[float]:
  """By how much a model this run pushed (a new version) is less accurate than the served
  model it was compared with, on the same split (a negative --change-threshold allows it),
  else None."""
  change = (metrics.get("baseline") or {}).get("accuracy_change")
  if push.get("pushed_model_path") and push.get("new_version") and change is not None:
    return change if change < 0 else None
  return None


def blocked(record: RunRecord, report: Dict[str, Any]) -> None:
  """A run that DriftCheck stopped: its drift, each drifted feature a failed gate."""
  record.drift = readers.drift_block(report)
  record.failed_gates = [
    f"drift: {line} (--on-drift block)" for line in record.drift["lines"]
  ] + record.failed_gates
  record.blessed = False


def serving(run) -> Optional[Serving]:
  """The served version before and after the run: ServingPusher's account, None when it did
  not run."""
  pushed = run.output(nodes.PUSHER, "pushed_model") if run else None
  if pushed is not None:
    push = readers.pushed_model(pushed)
    before = readers.string_property(pushed, properties.PREVIOUS_VERSION) or None
    return Serving(
      version_before=before,
      version=push["pushed_version"] or before,
      new_version=bool(push.get("new_version")),
    )
  return None


def models(record: RunRecord, run) -> None:
  """The candidate, the served model the Evaluator compared it with, and the warm start."""
  runs_of = getattr(run, "run_of_uri", lambda uri: None)
  trainer = record.stages.get(nodes.TRAINER)
  if record.model_path:
    record.models.candidate = ModelRef(
      uri=record.model_path,
      run_id=(trainer.from_run if trainer and trainer.from_run else record.run_id),
      version=record.pushed_version if record.pushed_model_path else None,
      accuracy=record.metrics.get("accuracy"),
    )
  comparison = readers.baseline_comparison(
    run.output(nodes.EVALUATOR, "evaluation") if run else None
  )
  baseline = record.metrics.get("baseline")
  if comparison.get("baseline"):
    record.models.baseline = ModelRef(
      uri=comparison.get("model_uri") or comparison["baseline"],
      # The run that trained it (MLMD); on Kubeflow, the run that pushed it.
      run_id=runs_of(comparison.get("model_uri")) or comparison.get("run_id"),
      version=comparison.get("version"),
      accuracy=baseline.get("accuracy") if baseline else None,
    )
  record.models.baseline_reason = comparison.get("reason") or (
    None if comparison.get("baseline") else "no model served yet" if comparison else None
  )
  warm = (record.training.get("settings") or {}).get("warm_start") or {}
  if warm.get("from"):
    record.models.warm_start = ModelRef(uri=warm["from"], run_id=runs_of(warm["from"]))
  record.models.candidate_is_served = bool(
    record.pushed_model_path and not record.serving.new_version
  )
