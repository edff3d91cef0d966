"""The run record's one builder: finished, failed, blocked and interrupted runs alike. It reads
what this run's stages did (reporting/executions.py) and what they wrote (readers.py,
evaluation.py), and what the process saw (reporting/outcome.py) when the run stopped early."""

import dataclasses
import logging
import os
from typing import Any, Callable, Dict, List, Optional, Union

from reporting import advice, class_metrics, evaluation, inference, readers
from reporting.outcome import Outcome
from schemas import filenames, nodes, properties
from schemas.outcomes import StageState, Status, exit_code
from schemas.run_record import ModelRef, RunRecord, Serving, StageRecord


@dataclasses.dataclass(frozen=True)
class RunContext:
  """What the builder needs to know of a run besides its executions: where its outputs go,
  the pipeline and data it was given, and the bounds it gates on (for a run that stopped
  before the Evaluator wrote its own)."""

  pipeline_name: str
  output_dir: Optional[str] = None  # None: a Kubeflow task with no output dir of its own
  serving_model_dir: Optional[str] = None
  data_dir: Optional[str] = None
  accuracy_threshold: float = 0.0
  min_class_recall: float = 0.0
  min_class_precision: float = 0.0
  change_threshold: Optional[float] = None

  @property
  def summary_path(self) -> str:
    return os.path.join(self.output_dir, filenames.RUN_SUMMARY)

  def thresholds(self) -> Dict[str, Any]:
    return {
      "accuracy": self.accuracy_threshold,
      "min_class_recall": self.min_class_recall,
      "min_class_precision": self.min_class_precision,
      "change": self.change_threshold,
    }


def build(
  context: RunContext, end: Outcome, run_id: str, run: Union[None, Callable, Any] = None
) -> RunRecord:
  """The record of run `run_id`: from its executions (`run`: a StoreRun or ArtifactRun, or a
  function returning one) as far as they got, and how it ended (`end`)."""
  record = RunRecord(
    pipeline_name=context.pipeline_name,
    run_id=run_id,
    data_dir=context.data_dir,
    thresholds=context.thresholds(),
  )
  run = _read(run, end)
  examples = run.output(nodes.EXAMPLE_GEN, "examples") if run else None
  if examples is not None and end.status is not Status.INPUT_ERROR:
    _ingest(record, readers.ingest_report(examples))
    record.data_dir = readers.data_dir(context.data_dir, run.executions.get(nodes.EXAMPLE_GEN))
    record.examples_path = examples.uri
    record.spans = readers.window_spans(run, record.span)
    record.drift = readers.drift(run)
    _train_and_gate(record, context, run)
  elif end.input_report:
    _ingest(record, end.input_report)
  if end.drift_report is not None:
    blocked(record, end.drift_report)
  record.stages = _stages(run, end, record)
  record.stage_seconds = {n: s.seconds for n, s in record.stages.items() if s.seconds is not None}
  record.serving = _serving(run, context)
  _models(record, run)
  record.status = end.status or _status(record)
  record.exit_code = exit_code(record.status, end.signum)
  if record.status in (Status.FAILED, Status.INTERRUPTED):
    record.failed_stage = end.stage
  record.error = end.error or record.push_error
  return record


def _read(run, end: Outcome):
  """The run's executions; a failed or interrupted run's store may be unreadable."""
  try:
    return run() if callable(run) else run
  except Exception as e:  # noqa: BLE001  (a failed run's record may be broken)
    if end.completed or end.drift_report is not None:
      raise
    logging.warning("the run's record could not be read: %s", e, exc_info=e)
    return None


def _ingest(record: RunRecord, ingest: Dict[str, Any]) -> None:
  record.images_found = ingest.get("images_found", 0)
  record.images_ingested = ingest.get("images_ingested", 0)
  record.images_rejected = ingest.get("images_rejected", {})
  record.rejected_files = ingest.get("rejected_files", [])
  record.skipped_folders = ingest.get("skipped_folders", [])
  record.span = ingest.get("span")
  record.split_details = ingest.get("splits", {})
  record.splits = {name: split["written"] for name, split in record.split_details.items()}
  record.data_warnings = ingest.get("warnings", [])
  record.classes = list(ingest.get("classes", []))


def _train_and_gate(record: RunRecord, context: RunContext, run) -> None:
  """What the stages after ingestion wrote: classes, anomalies, training, evaluation and its
  gates, the serving check, the push, TFLite, inference."""
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
  record.tflite = readers.tflite_export(run.output(nodes.TFLITE_EXPORT, "tflite_model"), pushed)
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


_STATES = {
  "COMPLETE": StageState.RAN,
  "CACHED": StageState.CACHED,
  "FAILED": StageState.FAILED,
  "CANCELED": StageState.INTERRUPTED,
}


def _stages(run, end: Outcome, record: RunRecord) -> Dict[str, StageRecord]:
  """Each stage's state in this run, with the reason for one that was skipped, blocked,
  failed or interrupted, and the run a cached one came from."""
  stopped = StageState.INTERRUPTED if end.status is Status.INTERRUPTED else StageState.FAILED
  stages = {}
  for node, execution in (run.stages() if run else {}).items():
    if nodes.RESOLVER_SUFFIX in node:  # a metadata lookup (Kubeflow: "<id>-model-resolver")
      continue
    state = _STATES.get(execution.state, stopped)  # RUNNING, NEW: the stage it stopped in
    stages[node] = StageRecord(state, execution.seconds, from_run=execution.from_run)
  if end.stage and end.stage not in stages and not end.completed:
    stages[end.stage] = StageRecord(stopped)
  if end.drift_report is not None:
    stages[nodes.DRIFT_CHECK] = StageRecord(
      StageState.BLOCKED,
      (stages.get(nodes.DRIFT_CHECK) or StageRecord(StageState.BLOCKED)).seconds,
      reason=f"drift in span {record.span}" if record.span is not None else "drift",
    )
  elif end.stage in stages and not end.completed:
    stages[end.stage].state = stopped
    stages[end.stage].reason = end.error
  for node, reason in _skipped(record).items():
    if node in stages and stages[node].state is StageState.RAN:
      stages[node].state, stages[node].reason = StageState.SKIPPED, reason
  return stages


def _skipped(record: RunRecord) -> Dict[str, str]:
  """Stages that ran but did nothing in this run, and why."""
  skipped = {}
  not_pushed = "the model was not blessed" if not record.blessed else "the serving check failed"
  if not record.pushed_model_path:
    skipped[nodes.PUSHER] = not_pushed
  if record.tflite and not record.tflite.get("passed") and not record.tflite.get("int8"):
    skipped[nodes.TFLITE_EXPORT] = record.tflite.get("reason") or "not exported"
  if record.inference and record.inference.get("status") != "scored":
    skipped[nodes.BULK_INFERRER] = record.inference.get("reason")
  return skipped


def _serving(run, context: RunContext) -> Serving:
  """The served version before and after the run: ServingPusher's account when it ran, else
  the serving dir as it is."""
  pushed = run.output(nodes.PUSHER, "pushed_model") if run else None
  if pushed is not None:
    push = readers.pushed_model(pushed)
    before = readers.string_property(pushed, properties.PREVIOUS_VERSION) or None
    return Serving(
      version_before=before,
      version=push["pushed_version"] or before,
      new_version=bool(push.get("new_version")),
    )
  current = readers.served_version(context.serving_model_dir)
  return Serving(version_before=current, version=current)


def _models(record: RunRecord, run) -> None:
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
      run_id=comparison.get("run_id") or runs_of(comparison.get("model_uri")),
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


def _status(record: RunRecord) -> Status:
  """A run whose stages all ran (or that DriftCheck stopped): pushed, unchanged (the candidate
  is the served model), not blessed; failed when the Pusher claimed a model not on disk."""
  if record.push_error:
    return Status.FAILED
  if record.blessed and record.pushed_model_path:
    return Status.PUSHED if record.serving.new_version else Status.UNCHANGED
  return Status.NOT_BLESSED


def add_ensemble(record: RunRecord, member_accuracies: List[Optional[float]]) -> None:
  """`ensemble` for a run that trained one: each member's architecture, seed, epochs and
  accuracy (`member_accuracies`, on the gated split, from reporting/predictions.py) beside the
  ensemble's (the Evaluator's), and a warning when a member beats the ensemble."""
  plan = (record.training.get("settings") or {}).get("ensemble")
  if not plan:
    return
  accuracies = member_accuracies or [None] * len(plan)
  epochs = record.training.get("member_epochs") or [None] * len(plan)
  members = [
    {**member, "accuracy": a, "epochs": e} for member, a, e in zip(plan, accuracies, epochs)
  ]
  record.ensemble = {
    "split": record.metrics.get("split"),
    "accuracy": record.metrics.get("accuracy"),
    "members": members,
  }
  scored = [(m["accuracy"], i) for i, m in enumerate(members, 1) if m["accuracy"] is not None]
  ensemble_accuracy = record.metrics.get("accuracy")
  if scored and ensemble_accuracy is not None and max(scored)[0] > ensemble_accuracy:
    best, number = max(scored)
    record.warnings.append(
      f"the ensemble ({ensemble_accuracy:.4f}) is less accurate than its member {number} "
      f"({members[number - 1]['model']}, {best:.4f}) on the same "
      f"{record.metrics.get('split', 'eval')} images: serve that member alone "
      "(--ensemble 1 with its seed), or train the members longer"
    )
