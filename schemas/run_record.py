"""The run record: what *this* run did, however it ended. One type, built by one builder
(reporting/build.py) for finished, failed, blocked and interrupted runs, written as
run_summary.json and read by every renderer (console, model card, tables, plots).

Stage by stage it says what happened in this run (`stages`: ran, cached from an earlier run,
skipped with a reason, blocked, failed, interrupted, not reached); which model was served before
the run and after it (`serving`); which models the Evaluator compared with and the Trainer
started from (`models`). The figures the components wrote (counts, metrics, training, TFLite,
ONNX, inference, label issues) keep the shapes the README documents.
"""

import dataclasses
from typing import Any, Dict, List, Optional

from schemas.outcomes import ExitCode, StageState, Status


@dataclasses.dataclass
class StageRecord:
  """One stage in this run."""

  state: StageState
  seconds: Optional[float] = None  # this run's seconds (a cached stage's lookup included)
  reason: Optional[str] = None  # skipped, blocked, failed or interrupted: why
  from_run: Optional[str] = None  # cached: the run whose execution's outputs were reused


@dataclasses.dataclass
class ModelRef:
  """A model the run refers to: the Trainer's output, the served model (a pushed version), the
  warm start's base."""

  uri: Optional[str] = None  # the Trainer's Model artifact
  run_id: Optional[str] = None  # the run that trained it
  version: Optional[str] = None  # its serving version, when it was pushed
  accuracy: Optional[float] = None  # on this run's gate split, when the Evaluator compared it


@dataclasses.dataclass
class Models:
  """The candidate, the served model it was compared with (the Evaluator's baseline) and the
  model its training started from (the warm start)."""

  candidate: Optional[ModelRef] = None
  baseline: Optional[ModelRef] = None  # the served model before this run, when compared
  baseline_reason: Optional[str] = None  # why there is no baseline comparison
  warm_start: Optional[ModelRef] = None
  candidate_is_served: bool = False  # nothing new: the candidate is the model being served


@dataclasses.dataclass
class Serving:
  """The serving dir before and after the run (the versions ServingPusher wrote)."""

  version_before: Optional[str] = None  # the served version the run found
  version: Optional[str] = None  # served after the run
  new_version: bool = False  # whether this run wrote a version


@dataclasses.dataclass
class LabelIssues:
  """Likely label errors (--find-label-issues): cleanlab's confident learning on out-of-sample
  probabilities, the train split's from LabelIssues' fold models, the held-out splits' from the
  trained model (reporting/label_issues.py)."""

  out_of_fold: Optional[str] = None  # LabelIssues' model run: out_of_fold.npz, folds.json
  folds: int = 0
  out_of_fold_accuracy: Optional[float] = None  # the fold models' on the train split
  images: Dict[str, int] = dataclasses.field(default_factory=dict)  # looked at, by split
  issues: Optional[int] = None  # found; None: not looked for (why: `error`)
  by_split: Dict[str, int] = dataclasses.field(default_factory=dict)
  file: Optional[str] = None  # label_issues.csv, in the report
  gallery: Optional[str] = None  # label_issues.png: the first of them, given and suggested label
  top: List[Dict[str, Any]] = dataclasses.field(default_factory=list)  # the CSV's first rows
  error: Optional[str] = None


@dataclasses.dataclass
class RunRecord:
  """run_summary.json, typed. Field names are the JSON keys."""

  pipeline_name: str
  run_id: str
  status: Status = Status.FAILED
  exit_code: int = ExitCode.ERROR
  failed_stage: Optional[str] = None
  error: Optional[str] = None
  finished_at: Optional[str] = None
  data_dir: Optional[str] = None
  # Ingestion (ImageExampleGen's report).
  images_found: int = 0
  images_ingested: int = 0
  images_rejected: Dict[str, int] = dataclasses.field(default_factory=dict)
  rejected_files: List[Dict[str, Any]] = dataclasses.field(default_factory=list)
  skipped_folders: List[Any] = dataclasses.field(default_factory=list)
  span: Optional[int] = None
  spans: List[int] = dataclasses.field(default_factory=list)  # trained on (the window)
  splits: Dict[str, int] = dataclasses.field(default_factory=dict)
  split_details: Dict[str, Any] = dataclasses.field(default_factory=dict)
  data_warnings: List[str] = dataclasses.field(default_factory=list)
  drift: Dict[str, Any] = dataclasses.field(default_factory=dict)
  anomalies: Dict[str, Dict[str, str]] = dataclasses.field(default_factory=dict)
  classes: List[str] = dataclasses.field(default_factory=list)
  # Training, evaluation and the gates.
  training: Dict[str, Any] = dataclasses.field(default_factory=dict)
  metrics: Dict[str, Any] = dataclasses.field(default_factory=dict)
  metric_warnings: List[str] = dataclasses.field(default_factory=list)
  thresholds: Dict[str, Any] = dataclasses.field(default_factory=dict)
  failed_gates: List[str] = dataclasses.field(default_factory=list)
  serving_check: Dict[str, Any] = dataclasses.field(default_factory=dict)
  advice: Optional[str] = None
  warnings: List[str] = dataclasses.field(default_factory=list)  # e.g. an ensemble's weak spot
  ensemble: Optional[Dict[str, Any]] = None
  # The models and the push.
  models: Models = dataclasses.field(default_factory=Models)
  model_path: Optional[str] = None
  examples_path: Optional[str] = None
  blessed: bool = False
  serving: Serving = dataclasses.field(default_factory=Serving)
  pushed_model_path: Optional[str] = None
  pushed_version: Optional[str] = None
  push_error: Optional[str] = None
  pushed_regression: Optional[float] = None
  tflite: Dict[str, Any] = dataclasses.field(default_factory=dict)
  onnx: Dict[str, Any] = dataclasses.field(default_factory=dict)  # with --export onnx
  inference: Optional[Dict[str, Any]] = None
  predictions: Optional[Dict[str, Any]] = None
  label_issues: Optional[LabelIssues] = None
  # What each stage did in this run.
  stages: Dict[str, StageRecord] = dataclasses.field(default_factory=dict)
  stage_seconds: Dict[str, float] = dataclasses.field(default_factory=dict)
  report_dir: Optional[str] = None
  report_seconds: Optional[float] = None
  wall_seconds: Optional[float] = None
  log: Optional[str] = None

  @property
  def completed(self) -> bool:
    """Every stage it needed ran (pushed, unchanged or not blessed)."""
    return self.status in (Status.PUSHED, Status.UNCHANGED, Status.NOT_BLESSED)

  def add_ingest(self, report: Dict[str, Any]) -> None:
    """ImageExampleGen's ingest report (ingest_report.json, or the counts an InputError
    carried) as the record's ingestion fields."""
    self.images_found = report.get("images_found", 0)
    self.images_ingested = report.get("images_ingested", 0)
    self.images_rejected = report.get("images_rejected", {})
    self.rejected_files = report.get("rejected_files", [])
    self.skipped_folders = report.get("skipped_folders", [])
    self.span = report.get("span")
    self.split_details = report.get("splits", {})
    self.splits = {name: split["written"] for name, split in self.split_details.items()}
    self.data_warnings = report.get("warnings", [])
    self.classes = list(report.get("classes", []))

  def stage(self, node: str) -> Optional[StageRecord]:
    return self.stages.get(node)

  def state(self, node: str) -> Optional[StageState]:
    stage = self.stages.get(node)
    return stage.state if stage else None

  def to_json(self) -> Dict[str, Any]:
    """The JSON object of run_summary.json (enums as their values, `stage_states` for readers
    of the older field)."""
    result = dataclasses.asdict(self)
    result["status"] = Status(self.status).value
    result["exit_code"] = int(self.exit_code)
    for stage in result["stages"].values():
      stage["state"] = StageState(stage["state"]).value
    result["stage_states"] = {name: s["state"] for name, s in result["stages"].items()}
    return result

  @classmethod
  def from_json(cls, data: Dict[str, Any]) -> "RunRecord":
    """A record read back from run_summary.json (unknown keys ignored)."""
    known = {f.name for f in dataclasses.fields(cls)}
    values = {k: v for k, v in data.items() if k in known}
    values["status"] = Status(values.get("status", Status.FAILED))
    values["stages"] = {
      name: StageRecord(**{**s, "state": StageState(s["state"])})
      for name, s in (values.get("stages") or {}).items()
    }
    models = dict(values.get("models") or {})
    for key in ("candidate", "baseline", "warm_start"):
      if models.get(key):
        models[key] = ModelRef(**models[key])
    values["models"] = Models(**models)
    values["serving"] = Serving(**(values.get("serving") or {}))
    if values.get("label_issues"):
      values["label_issues"] = LabelIssues(**values["label_issues"])
    return cls(**values)
