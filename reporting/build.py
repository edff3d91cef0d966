"""The run record's one builder: finished, failed, blocked and interrupted runs alike. It reads
what this run's stages did (reporting/executions.py) and what they wrote (reporting/outputs.py,
with TensorFlow and TFMA, imported only when there is a run to read), and what the process saw
(reporting/outcome.py) when the run stopped early. Importing it loads no TensorFlow, so a run
has its record writer before its heavy imports."""

import dataclasses
import logging
import os
from typing import Any, Callable, Dict, List, Optional, Union

from reporting.outcome import Outcome
from reporting.prediction_drift import PredictionDriftThresholds
from schemas import filenames, nodes
from schemas.outcomes import StageState, Status, exit_code
from schemas.run_record import RunRecord, Serving, StageRecord


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
  label_budget: int = 0  # rows of inference/to_label.csv (0: all)
  prediction_drift_thresholds: PredictionDriftThresholds = PredictionDriftThresholds()

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
  reader = None
  if run is not None or end.drift_report is not None:
    # TensorFlow and TFMA read what the stages wrote; a run stopped before its first stage
    # (an interrupt at any moment) needs neither, so its record is written at once.
    from reporting import outputs as reader  # noqa: PLC0415  (as said above)

    reader.gather(record, context, run, end)
  elif end.input_report:
    record.add_ingest(end.input_report)
  record.stages = _stages(run, end, record)
  record.stage_seconds = {n: s.seconds for n, s in record.stages.items() if s.seconds is not None}
  record.serving = (reader and reader.serving(run)) or _on_disk(context.serving_model_dir)
  if reader:
    reader.models(record, run)
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
  exports = [block for block in (record.tflite, record.onnx) if block]
  if exports and not any(block.get("passed") or block.get("images") for block in exports):
    skipped[nodes.TFLITE_EXPORT] = exports[0].get("reason") or "not exported"
  if record.inference and record.inference.get("status") != "scored":
    skipped[nodes.BULK_INFERRER] = record.inference.get("reason")
  return skipped


def _on_disk(serving_model_dir: Optional[str]) -> Serving:
  """The serving dir as it is, for a run that did not reach ServingPusher."""
  current = served_version(serving_model_dir)
  return Serving(version_before=current, version=current)


def served_version(serving_model_dir: Optional[str]) -> Optional[str]:
  """The newest numbered version in a serving dir (what TF Serving serves), or None."""
  if not serving_model_dir:
    return None
  if "://" in serving_model_dir:
    import tensorflow as tf  # noqa: PLC0415  (gs:// and other remote file systems)

    listed = tf.io.gfile.listdir(serving_model_dir) if tf.io.gfile.isdir(serving_model_dir) else []
  else:
    listed = os.listdir(serving_model_dir) if os.path.isdir(serving_model_dir) else []
  numbered = [int(n.rstrip("/")) for n in listed if n.rstrip("/").isdigit()]
  return str(max(numbered)) if numbered else None


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
