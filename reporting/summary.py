"""run_summary.json's content: one record of a run, assembled from what its components wrote
(readers.py, evaluation.py) or, for a run that stopped early, from what its process saw."""

import dataclasses
import os
from typing import Any, Dict, List, Optional

import tensorflow_transform as tft

from components.image_example_gen.spans import has_spec
from reporting import advice, class_metrics, evaluation, inference, outcome, readers
from trainer_module.constants import LABEL_VOCAB

SUMMARY_FILE = "run_summary.json"
RUNS_DIR = "runs"  # <output dir>/runs/<run id>.json: every run's summary


@dataclasses.dataclass(frozen=True)
class RunContext:
  """What the reporting layer needs to know of a run besides its record: where its outputs
  go, the pipeline and data it was given, and the bounds it gates on (for a run that stopped
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
    return os.path.join(self.output_dir, SUMMARY_FILE)

  def thresholds(self) -> Dict[str, Any]:
    return {
      "accuracy": self.accuracy_threshold,
      "min_class_recall": self.min_class_recall,
      "min_class_precision": self.min_class_precision,
      "change": self.change_threshold,
    }


def regression(metrics: Dict[str, Any], pushed_path: Optional[str]) -> Optional[float]:
  """By how much a pushed model is less accurate than its baseline on the same split (a
  negative --change-threshold allows it), else None."""
  change = (metrics.get("baseline") or {}).get("accuracy_change")
  return change if pushed_path and change is not None and change < 0 else None


def _data_dir(context: RunContext, example_gen) -> Optional[str]:
  """--data-dir as given when it has a span pattern (ImageExampleGen's execution records the
  span folder it resolved), else the folder ImageExampleGen read."""
  if context.data_dir and has_spec(context.data_dir):
    return context.data_dir
  properties = example_gen.custom_properties if example_gen else {}
  return properties["input_base"].string_value if "input_base" in properties else context.data_dir


def gate_split(splits: Dict[str, Any]) -> str:
  """The split the Evaluator gates on: test when there is one, else eval."""
  return "test" if "test" in splits else "eval"


def _ingest_fields(ingest: Dict[str, Any]) -> Dict[str, Any]:
  return {
    "images_found": ingest.get("images_found", 0),
    "images_ingested": ingest.get("images_ingested", 0),
    "images_rejected": ingest.get("images_rejected", {}),
    "rejected_files": ingest.get("rejected_files", []),
    "skipped_folders": ingest.get("skipped_folders", []),
    "span": ingest.get("span"),
    "splits": {name: split["written"] for name, split in ingest.get("splits", {}).items()},
    "split_details": ingest.get("splits", {}),
    "data_warnings": ingest.get("warnings", []),
  }


def collect(context: RunContext, record) -> Dict[str, Any]:
  """The summary of a run whose ImageExampleGen finished, from its record (reporting/record.py):
  what each component wrote. Stages that did not run leave their fields empty."""
  examples = record.output("ImageExampleGen", "examples")
  ingest = readers.ingest_report(examples)
  transform_graph = record.output("Transform", "transform_graph")
  class_names = (
    [c.decode() for c in tft.TFTransformOutput(transform_graph.uri).vocabulary_by_name(LABEL_VOCAB)]
    if transform_graph
    else list(ingest.get("classes", []))
  )
  evaluation_artifact = record.output("Evaluator", "evaluation")
  blessing = record.output("Evaluator", "blessing")
  pushed = record.output("ServingPusher", "pushed_model")
  serving_report = readers.serving_check(record.output("ServingCheck", "blessing"))
  anomalies = record.output("ExampleValidator", "anomalies")
  model_run = record.output("Trainer", "model_run")
  model = record.output("Trainer", "model")
  split = gate_split(ingest["splits"])
  baseline = record.input("Evaluator", "baseline_model")
  metrics = (
    evaluation.evaluation_metrics(
      evaluation_artifact.uri, class_names, baseline.uri if baseline else None
    )
    if evaluation_artifact
    else {}
  )
  if metrics:
    metrics["split"] = split
  bounds = (
    evaluation.thresholds(evaluation_artifact.uri) if evaluation_artifact else context.thresholds()
  )
  gated = bounds["min_class_recall"] > 0 or bounds["min_class_precision"] > 0
  pushed_block = readers.pushed_model(pushed)
  blessed = readers.int_property(blessing, "blessed") == 1
  infer_examples = record.output(inference.EXAMPLE_GEN, "examples")
  training = readers.training(model_run.uri) if model_run else {}
  return {
    "pipeline_name": context.pipeline_name,
    "run_id": record.run_id,
    "data_dir": _data_dir(context, record.executions.get("ImageExampleGen")),
    **_ingest_fields(ingest),
    "spans": readers.window_spans(record, ingest.get("span")),
    "drift": readers.drift(record),
    "classes": class_names,
    "metrics": metrics,
    "metric_warnings": class_metrics.warnings(metrics.get("per_class", {}), gated, split),
    "thresholds": bounds,
    "failed_gates": (
      (
        evaluation.failed_gates(evaluation_artifact.uri, class_names, split)
        if evaluation_artifact
        else []
      )
      + readers.serving_failures(serving_report)
    ),
    "serving_check": serving_report,
    "anomalies": readers.anomalies(anomalies.uri) if anomalies else {},
    "training": training,
    "advice": advice.near_chance(
      metrics, training, ingest["splits"].get("train", {}).get("written", 0)
    ),
    "model_path": model.uri if model else None,
    "examples_path": examples.uri,  # ImageExampleGen's output (the report's Grad-CAM pages)
    "blessed": blessed,
    **pushed_block,
    "pushed_regression": regression(metrics, pushed_block["pushed_model_path"]),
    "tflite": readers.tflite_export(record.output("TFLiteExport", "tflite_model"), pushed),
    "inference": (
      inference.block(record, blessed, readers.ingest_report(infer_examples))
      if infer_examples
      else None
    ),
    "stage_seconds": record.stage_seconds(),
    "stage_states": record.states(),
  }


def early(context: RunContext, run_id: str, ingest: Optional[Dict[str, Any]] = None):
  """The summary of a run with no ImageExampleGen output to read (bad input, a failure or an
  interrupt before it finished): the counts found so far, nothing blessed or pushed."""
  ingest = ingest or {}
  return {
    "pipeline_name": context.pipeline_name,
    "run_id": run_id,
    "data_dir": context.data_dir,
    **_ingest_fields(ingest),
    "classes": ingest.get("classes", []),
    "metrics": {},
    "thresholds": context.thresholds(),
    "failed_gates": [],
    "anomalies": {},
    "training": {},
    "blessed": False,
    "pushed_model_path": None,
    "pushed_version": None,
    "stage_seconds": {},
  }


def add_drift_block(result: Dict[str, Any], report: Dict[str, Any]) -> Dict[str, Any]:
  """A run that DriftCheck stopped: its drift, each drifted feature a failed gate, not
  blessed."""
  result["drift"] = readers.drift_block(report)
  result["failed_gates"] = [
    f"drift: {line} (--on-drift block)" for line in result["drift"]["lines"]
  ] + result["failed_gates"]
  result["blessed"] = False
  return result


def add_ensemble_block(result: Dict[str, Any], member_accuracies: List[float]) -> None:
  """`ensemble` for a run that trained one: each member's architecture, seed and accuracy
  (`member_accuracies`, on the gated split, from reporting/predictions.py) beside the
  ensemble's, the Evaluator's accuracy on that split."""
  plan = ((result.get("training") or {}).get("settings") or {}).get("ensemble")
  if not plan:
    return
  metrics = result.get("metrics") or {}
  accuracies = member_accuracies or [None] * len(plan)
  result["ensemble"] = {
    "split": metrics.get("split"),
    "accuracy": metrics.get("accuracy"),
    "members": [{**member, "accuracy": a} for member, a in zip(plan, accuracies)],
  }


def status(result: Dict[str, Any]) -> str:
  """pushed or not_blessed, for a run whose stages all ran (or that DriftCheck stopped);
  failed when the Pusher claimed a model that is not on disk."""
  if result.get("push_error"):
    return outcome.FAILED
  if result.get("blessed") and result.get("pushed_model_path") and not result.get("push_error"):
    return outcome.PUSHED
  return outcome.NOT_BLESSED
