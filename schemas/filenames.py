"""File and folder names: what the components write inside their artifacts, what the Trainer
keeps beside the model, and the layout of a run's output dir. Readers ask for them here."""

import os
from typing import Iterable

# Inside artifacts.
INGEST_REPORT = "ingest_report.json"  # ImageExampleGen's counts, splits, rejections, span
SERVING_CHECK_REPORT = "serving_check.json"  # ServingCheck's InfraBlessing
DRIFT_REPORT = "drift.json"  # DriftCheck's anomalies artifact
BASELINE_COMPARISON = "baseline_comparison.json"  # the Evaluator's: which baseline, compared?
TRAINING_LOG = "training_log.jsonl"  # the Trainer's model run: one line per epoch
TRAINING_SETTINGS = "training_settings.json"  # what this Trainer run used, for the model card
OUT_OF_FOLD = "out_of_fold.npz"  # LabelIssues' model run: each training image's probabilities
FOLDS_REPORT = "folds.json"  # LabelIssues' model run: its folds, their sizes and accuracy
KERAS_MODEL = "model.keras"  # the bare Keras model, in the model run
TFLITE_FOLDER = "tflite"  # TFLiteExport's folder; pushed as <serving dir>/<version>/tflite/
ONNX_FOLDER = "onnx"  # likewise <version>/onnx/ (each --export format's folder is its name)
ONNX_FILE = "model.onnx"
PARITY_REPORT = "parity.json"  # TFLiteExport's parity gate: each format's, and in each folder
TFLITE_LABELS = "labels.txt"
TFLITE_CONTRACT = "input.json"
TFLITE_FILES = {"int8": "model_int8.tflite", "float16": "model_float16.tflite"}

# Beside the SavedModel, in its assets.extra/ (TF Serving ignores that folder).
ASSETS_EXTRA = "assets.extra"
MODEL_LABELS = os.path.join(ASSETS_EXTRA, "labels.txt")  # class names in id order
MODEL_CONTRACT = os.path.join(ASSETS_EXTRA, "input.json")  # the input contract
MODEL_KERAS = os.path.join(ASSETS_EXTRA, KERAS_MODEL)
SAVED_MODEL = "saved_model.pb"
FINGERPRINT = "fingerprint.pb"  # SavedModel's hash of its graph and variables

# Image files: what ImageExampleGen lists in a folder and `python -m pipeline.predict` classifies.
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp")

# Splits: TFX writes each split's records under Split-<name>.
SPLIT_FOLDERS = ("train", "eval", "test")  # pre-split data folders, in this order
INFER_SPLIT = "infer"  # the one split of unlabelled images (--infer-dir)


def split_dir(split: str) -> str:
  return f"Split-{split}"


def gate_split(splits: Iterable[str]) -> str:
  """The split the Evaluator gates on: test when there is one, else eval."""
  return "test" if "test" in set(splits) else "eval"


# A run's output dir.
PIPELINE_ROOT = "pipeline"
METADATA_DB = "metadata.db"
SERVING_DIR = "serving_model"  # TF Serving's <version>/ folders
SERVING_REPORTS = "reports"  # serving_model/reports/<version>/: the pushed run's report
SAMPLE_DATA = os.path.join("sample_data", "digits")
RUN_SUMMARY = "run_summary.json"
RUNS_DIR = "runs"  # runs/<run id>.json: every run's summary
LOGS_DIR = "logs"
LOCK_FILE = ".lock"
REPORT_DIR = "report"
PREDICTIONS_CSV = "predictions.csv"  # in report/ (the gated split) and inference/
LABEL_ISSUES_CSV = "label_issues.csv"  # in report/: likely label errors (--find-label-issues)
LABEL_ISSUES_GALLERY = "label_issues.png"  # in report/: the first of them, with both labels
INFERENCE_DIR = "inference"
TO_LABEL_CSV = "to_label.csv"  # in inference/: what to label next, least confident first
