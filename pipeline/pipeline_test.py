"""create_pipeline wiring: gates from the config, the split the Evaluator gates on."""

import json

import tensorflow_data_validation as tfdv
from tensorflow_metadata.proto.v0 import schema_pb2

from components.image_example_gen import executor, sources
from pipeline import configs
from pipeline.pipeline import create_pipeline
from schemas import SCHEMA_PATH
from tests import images


def _config(argv):
  """The checked PipelineConfig of a command line (defaults, environment, flags)."""
  return configs.parse(argv)[0]


def _tree(root, splits=("",)):
  png = images.encode(images.digit_pixels(1)[0][0], "png")
  images.write_tree(
    str(root),
    {f"{s}{c}/{i}.png".lstrip("/"): png for s in splits for c in ("cat", "dog") for i in range(2)},
  )
  return str(root)


def _components(argv):
  config = _config(argv)
  pipeline = create_pipeline(config, sources.describe(config.data_dir))
  return {c.id: c for c in pipeline.components}


def test_thresholds_and_classes_come_from_the_config(tmp_path):
  components = _components(
    [
      "--data-dir",
      _tree(tmp_path),
      "--accuracy-threshold",
      "0.91",
      "--min-class-recall",
      "0.42",
      "--min-class-precision",
      "0.37",
      "--change-threshold",
      "-0.01",
    ]
  )
  eval_config = json.loads(components["Evaluator"].exec_properties["eval_config"])
  overall, per_class, top1 = eval_config["metrics_specs"]
  bounds = {
    m["class_name"]: m["per_slice_thresholds"][0]["threshold"]
    for spec in (overall, per_class)
    for m in spec["metrics"]
    if m.get("per_slice_thresholds")
  }
  assert bounds["SparseCategoricalAccuracy"]["value_threshold"]["lower_bound"] == 0.91
  assert bounds["SparseCategoricalAccuracy"]["change_threshold"]["absolute"] == -0.01
  assert bounds["Top1Recall"]["value_threshold"]["lower_bound"] == 0.42
  assert bounds["Top1Precision"]["value_threshold"]["lower_bound"] == 0.37
  assert per_class["binarize"]["class_ids"]["values"] == [0, 1]
  # top-1 per class: the confusion matrix's figures, not one-vs-rest at a 0.5 probability
  assert {(m["class_name"], m["module"]) for m in per_class["metrics"]} == {
    (f"Top1{name}", "components.evaluator.metrics") for name in ("Recall", "Precision", "F1Score")
  }
  assert "MultiClassConfusionMatrixPlot" in {m["class_name"] for m in overall["metrics"]}
  # calibration of the top probability: one (top probability, top-1 hit) per image
  assert top1["aggregate"] == {"micro_average": True, "top_k_list": {"values": [1]}}
  assert [m["class_name"] for m in top1["metrics"]] == ["CalibrationPlot"]
  assert [s.get("feature_keys") for s in eval_config["slicing_specs"]] == [None, ["label"]]
  assert json.loads(components["Evaluator"].exec_properties["example_splits"]) == ["eval"]


def test_a_zero_class_bound_is_no_gate(tmp_path):
  components = _components(
    ["--data-dir", _tree(tmp_path), "--min-class-recall", "0", "--min-class-precision", "0.2"]
  )
  per_class = json.loads(components["Evaluator"].exec_properties["eval_config"])["metrics_specs"][1]
  gated = {m["class_name"] for m in per_class["metrics"] if m.get("per_slice_thresholds")}
  assert gated == {"Top1Precision"}


def test_evaluator_gates_on_test_split_when_there_is_one(tmp_path):
  components = _components(["--data-dir", _tree(tmp_path), "--splits", "train=8,eval=1,test=1"])
  assert json.loads(components["Evaluator"].exec_properties["example_splits"]) == ["test"]
  output = json.loads(components["ImageExampleGen"].exec_properties["output_config"])
  assert [s["name"] for s in output["split_config"]["splits"]] == ["train", "eval", "test"]


def test_pre_split_folders_become_input_splits(tmp_path):
  data = _tree(tmp_path, splits=("train/", "eval/", "test/"))
  components = _components(["--data-dir", data])
  input_config = json.loads(components["ImageExampleGen"].exec_properties["input_config"])
  assert [(s["name"], s["pattern"]) for s in input_config["splits"]] == [
    ("train", "train/*/*"),
    ("eval", "eval/*/*"),
    ("test", "test/*/*"),
  ]
  assert json.loads(components["Evaluator"].exec_properties["example_splits"]) == ["test"]


def test_training_settings_reach_the_trainer_and_tune_adds_a_tuner(tmp_path):
  argv = [
    "--data-dir",
    _tree(tmp_path),
    "--model",
    "efficientnet",
    "--model-variant",
    "b1",
    "--augment",
    "flip",
    "--class-weights",
    "none",
  ]
  components = _components(argv)
  assert "Tuner" not in components
  trainer_config = json.loads(components["Trainer"].exec_properties["custom_config"])
  assert (
    trainer_config["model"],
    trainer_config["model_variant"],
    trainer_config["augment"],
    trainer_config["class_weights"],
  ) == ("efficientnet", "b1", ["flip"], "none")
  assert "hyperparameters" not in components["Trainer"].inputs

  components = _components(argv + ["--tune", "--tune-trials", "3"])
  tuner, trainer = components["Tuner"], components["Trainer"]
  assert json.loads(tuner.exec_properties["custom_config"])["tune_trials"] == 3
  assert trainer.inputs["hyperparameters"].producer_component_id == "Tuner"


def test_push_needs_both_blessings_and_the_serving_check_uses_the_gated_split(tmp_path):
  components = _components(
    [
      "--data-dir",
      _tree(tmp_path),
      "--splits",
      "train=8,eval=1,test=1",
      "--warmup-requests",
      "5",
      "--pipeline-name",
      "pets",
      "--max-batch-size",
      "4",
    ]
  )
  check, pusher = components["ServingCheck"], components["ServingPusher"]
  assert (
    check.exec_properties["split"],
    check.exec_properties["num_requests"],
    check.exec_properties["model_name"],
    check.exec_properties["max_batch_size"],
  ) == ("test", 5, "pets", 4)
  assert check.inputs["model"].producer_component_id == "Trainer"
  assert pusher.inputs["model_blessing"].producer_component_id == "Evaluator"
  assert pusher.inputs["infra_blessing"].producer_component_id == "ServingCheck"
  assert "model" not in pusher.inputs  # it pushes the checked copy, with its warmup requests
  assert json.loads(pusher.exec_properties["custom_config"]) == {
    "model_name": "pets",
    "max_batch_size": 4,
    "keep_versions": 5,
  }


def test_tflite_export_checks_the_blessed_model_on_the_gated_split_before_the_push(tmp_path):
  components = _components(["--data-dir", _tree(tmp_path), "--splits", "train=8,eval=1,test=1"])
  export, pusher = components["TFLiteExport"], components["ServingPusher"]
  assert export.exec_properties["gate_split"] == "test"
  assert export.exec_properties["calibration_split"] == "train"
  assert (export.exec_properties["min_agreement"], export.exec_properties["max_accuracy_drop"]) == (
    0.98,
    0.01,
  )
  assert export.inputs["model"].producer_component_id == "Trainer"
  assert export.inputs["model_blessing"].producer_component_id == "Evaluator"
  assert pusher.inputs["tflite_model"].producer_component_id == "TFLiteExport"
  assert export.exec_properties["formats"] == "tflite"  # the default: ONNX is asked for


def test_export_names_the_formats_and_none_leaves_the_stage_out(tmp_path):
  data = _tree(tmp_path)
  both = _components(["--data-dir", data, "--export", "tflite,onnx"])
  assert both["TFLiteExport"].exec_properties["formats"] == "tflite,onnx"
  onnx = _components(["--data-dir", data, "--export", "onnx"])
  assert onnx["TFLiteExport"].exec_properties["formats"] == "onnx"
  neither = _components(["--data-dir", data, "--export", "none"])
  assert "TFLiteExport" not in neither
  assert "tflite_model" not in neither["ServingPusher"].inputs


def test_infer_dir_adds_an_unlabelled_ingestion_and_bulk_inferrer_after_the_push(tmp_path):
  data = _tree(tmp_path / "data")
  unlabelled = tmp_path / "unlabelled"
  images.write_tree(str(unlabelled), {"a.png": images.encode(images.digit_pixels(1)[0][0], "png")})
  assert not {"InferenceExampleGen", "BulkInferrer"} & set(_components(["--data-dir", data]))
  components = _components(
    ["--data-dir", data, "--infer-dir", str(unlabelled), "--min-image-size", "4"]
  )
  ingest, inferrer = components["InferenceExampleGen"], components["BulkInferrer"]
  assert ingest.exec_properties["input_base"] == str(unlabelled)
  assert json.loads(ingest.exec_properties["input_config"])["splits"] == [
    {"name": "infer", "pattern": "*/*"}
  ]
  assert json.loads(ingest.exec_properties["output_config"]) == {}  # the input's one split
  custom = executor.unpack_custom_config(ingest.exec_properties)
  assert (custom["unlabelled"], custom["keep_duplicates"], custom["min_image_size"]) == (
    True,
    True,
    4,
  )
  assert inferrer.inputs["examples"].producer_component_id == "InferenceExampleGen"
  assert inferrer.inputs["model"].producer_component_id == "Trainer"
  assert inferrer.inputs["pushed_model"].producer_component_id == "ServingPusher"
  assert "ServingPusher" in {n.id for n in inferrer.upstream_nodes}
  assert json.loads(inferrer.exec_properties["data_spec"]) == {"example_splits": ["infer"]}
  assert json.loads(inferrer.exec_properties["model_spec"]) == {
    "model_signature_name": ["bulk_inference"]
  }


def test_statistics_leave_out_the_debug_only_lineage_features_and_read_the_schema(tmp_path):
  """file_name and sha256 (DEBUG_ONLY in the schema, one value per image) get no statistics;
  every other feature of the schema does, typed by it (the schema is StatisticsGen's input)."""
  components = _components(["--data-dir", _tree(tmp_path)])
  statistics_gen = components["StatisticsGen"]
  options = json.loads(statistics_gen.exec_properties["stats_options_json"])
  schema = tfdv.load_schema_text(SCHEMA_PATH)
  debug_only = {
    f.name for f in schema.feature if f.lifecycle_stage == schema_pb2.LifecycleStage.DEBUG_ONLY
  }
  assert debug_only == {"file_name", "sha256"}
  assert set(options["_feature_allowlist"]) == {f.name for f in schema.feature} - debug_only
  assert statistics_gen.inputs["schema"].producer_component_id == "ImportSchemaGen"


def test_transform_writes_neither_statistics_nor_an_analyzer_cache_that_nothing_reads(tmp_path):
  """Transform's outputs are the graph and the transformed examples only; its settings are the
  config's."""
  argv = ["--data-dir", _tree(tmp_path), "--image-size", "24", "--resize", "pad"]
  config, transform = _config(argv), _components(argv)["Transform"]
  assert set(transform.outputs) == {"transform_graph", "transformed_examples"}
  assert "analyzer_cache" not in transform.inputs
  custom = json.loads(transform.exec_properties["custom_config"])
  assert (custom["image_size"], custom["channels"], custom["resize"]) == (
    24,
    config.channels,
    "pad",
  )
