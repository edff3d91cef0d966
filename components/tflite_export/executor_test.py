"""TFLiteExport's executor on a CNN trained on real digits: int8 and float16 TFLite models and
an ONNX model that answer like the served SavedModel, the files each folder needs, and the one
parity gate every format is held to."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime
import pytest
import tensorflow as tf
from tfx.utils import path_utils

from components import scoring
from components.tflite_export import convert, executor, onnx_convert, onnx_folder
from schemas import filenames
from tests import records, training
from trainer_module import preprocessing


def run_export(digits_model, out_dir, blessed=None, **params):
  return training.run_tflite_export(digits_model, str(out_dir), blessed, **params)


@pytest.fixture(scope="module")
def exported(digits_tflite):
  return digits_tflite


def gate_images(digits_model):
  examples, _, _ = digits_model
  return [(r.image, r.label) for r in executor.read_examples(examples.uri, "eval", 1000)]


def test_int8_model_classifies_real_digits_like_the_saved_model(exported, digits_model):
  output, report = exported
  assert report["passed"] is True, report["reason"]
  assert output.get_int_custom_property("passed") == 1
  folder = os.path.join(output.uri, filenames.TFLITE_FOLDER)
  # Recomputed here, not taken from the report: each image decoded as input.json says, then
  # the int8 interpreter, against serving_default on the same encoded bytes.
  with open(os.path.join(folder, "input.json")) as f:
    spec = json.load(f)
  images = gate_images(digits_model)
  served = training.load(digits_model[1]).signatures["serving_default"](
    image_bytes=tf.constant([d for d, _ in images])
  )
  served_top = served["probabilities"].numpy().argmax(axis=1)
  int8 = scoring.TFLiteClassifier(os.path.join(folder, "model_int8.tflite"))
  probabilities = int8.predict(scoring.decode([d for d, _ in images], spec))
  np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=0.02)
  agreement = np.mean(probabilities.argmax(axis=1) == served_top)
  names = [c.decode() for c in served["class_names"].numpy()[0]]
  truth = np.array([names.index(label) for _, label in images])
  saved_accuracy = np.mean(served_top == truth)
  int8_accuracy = np.mean(probabilities.argmax(axis=1) == truth)
  assert len(images) == report["images"] >= 80
  assert agreement >= 0.98 and agreement == pytest.approx(report["int8"]["agreement"], abs=1e-4)
  assert int8_accuracy >= saved_accuracy - 0.01
  assert saved_accuracy == pytest.approx(report["saved_model"]["accuracy"], abs=1e-4)
  assert saved_accuracy > 0.5  # chance is 0.1: a model that has learned digits
  assert report["float16"]["agreement"] >= 0.99


def test_the_folder_has_what_a_mobile_developer_needs(exported, digits_model):
  output, report = exported
  folder = os.path.join(output.uri, filenames.TFLITE_FOLDER)
  assert sorted(os.listdir(folder)) == [
    "README.md",
    "input.json",
    "labels.txt",
    "model_float16.tflite",
    "model_int8.tflite",
    "parity.json",
  ]
  for kind in ("int8", "float16"):
    path = os.path.join(folder, f"model_{kind}.tflite")
    assert report[kind]["bytes"] == os.path.getsize(path)
    classifier = scoring.TFLiteClassifier(path)
    assert (classifier.input["dtype"], list(classifier.input["shape"])) == (
      np.uint8,
      [1, 16, 16, 1],
    )
    assert (classifier.output["dtype"], list(classifier.output["shape"])) == (np.float32, [1, 10])
  assert report["int8"]["bytes"] < report["float16"]["bytes"] < 1 << 20
  # labels.txt: the served class_names, in id order.
  served = training.load(digits_model[1]).signatures["serving_default"](
    image_bytes=tf.constant([gate_images(digits_model)[0][0]])
  )
  with open(os.path.join(folder, "labels.txt")) as f:
    assert f.read().splitlines() == [c.decode() for c in served["class_names"].numpy()[0]]
  with open(os.path.join(folder, "input.json")) as f:
    spec = json.load(f)
  assert (spec["height"], spec["width"], spec["channels"], spec["resize"]) == (16, 16, 1, "squash")
  assert spec["input"]["dtype"] == "uint8" and spec["input"]["shape"] == [1, 16, 16, 1]
  assert spec["output"] == {"name": "probabilities", "dtype": "float32", "shape": [1, 10]}
  assert spec["normalization"]["in_model"] is True
  assert len(spec["normalization"]["mean"]) == len(spec["normalization"]["std"]) == 1
  assert spec["labels"] == "labels.txt" and spec["models"]["int8"] == "model_int8.tflite"
  with open(os.path.join(folder, "parity.json")) as f:
    assert json.load(f) == report
  assert "model_int8.tflite" in open(os.path.join(folder, "README.md")).read()


def test_decoding_as_input_json_says_gives_transforms_pixels_bit_for_bit(exported, digits_model):
  output, _ = exported
  with open(os.path.join(output.uri, filenames.TFLITE_FOLDER, "input.json")) as f:
    spec = json.load(f)
  examples = digits_model[0]
  serialized = records.serialized(records.split_files(examples.uri, "eval"))[:20]
  images = [(records.feature(tf.train.Example.FromString(s), "image"), "") for s in serialized]
  model = tf.saved_model.load(path_utils.serving_model_path(digits_model[1].uri))
  transformed = model.signatures["transform_features"](examples=tf.constant(serialized))
  pixels = preprocessing.decode_pixels(transformed["image_xf"], [16, 16, 1]).numpy()
  np.testing.assert_array_equal(
    scoring.decode([d for d, _ in images], spec), pixels.astype(np.uint8)
  )


def test_a_model_that_fails_parity_is_marked_and_says_why(digits_model, tmp_path):
  output, report = run_export(
    digits_model, tmp_path / "strict", min_agreement=1.01, max_accuracy_drop=-0.5
  )
  assert report["passed"] is False
  assert output.get_int_custom_property("passed") == 0
  assert "int8: top-1 agrees with the SavedModel on" in report["reason"]
  assert "points below the SavedModel's" in report["reason"]
  assert output.get_string_custom_property("reason") == report["reason"]


def test_an_unblessed_model_is_not_exported(digits_model, tmp_path):
  output, report = run_export(digits_model, tmp_path / "unblessed", blessed=0)
  assert report == {"passed": False, "reason": "not blessed by the Evaluator: not exported"}
  assert not os.path.exists(os.path.join(output.uri, filenames.TFLITE_FOLDER))


def test_a_conversion_failure_is_recorded_not_raised(digits_model, tmp_path, monkeypatch):
  def broken(*_args, **_kwargs):
    raise RuntimeError("op not supported\nlong converter log")

  monkeypatch.setattr(convert, "convert_all", broken)
  output, report = run_export(digits_model, tmp_path / "broken")
  assert report == {"passed": False, "reason": "export failed: RuntimeError: op not supported"}
  assert output.get_int_custom_property("passed") == 0


def test_input_json_names_the_interpreters_own_tensors(exported):
  output, _ = exported
  folder = os.path.join(output.uri, filenames.TFLITE_FOLDER)
  with open(os.path.join(folder, "input.json")) as f:
    spec = json.load(f)
  assert set(spec["tflite"]) == {"int8", "float16"}
  for kind, described in spec["tflite"].items():
    assert described["file"] == f"model_{kind}.tflite" and described["signature"] == "serve"
    interpreter = tf.lite.Interpreter(model_path=os.path.join(folder, described["file"]))
    (tensor_in,), (tensor_out,) = interpreter.get_input_details(), interpreter.get_output_details()
    for tensor, details, signature_name in (
      (described["input"], tensor_in, "pixels"),
      (described["output"], tensor_out, "probabilities"),
    ):
      assert tensor["name"] == details["name"] and tensor["index"] == details["index"], kind
      assert tensor["signature_name"] == signature_name
      assert tensor["dtype"] == np.dtype(details["dtype"]).name
      assert tensor["shape"] == details["shape"].tolist()
    # The signature runner's names map to the same tensors.
    runner = interpreter.get_signature_runner("serve")
    assert runner.get_input_details()["pixels"]["name"] == described["input"]["name"]
    assert runner.get_output_details()["probabilities"]["name"] == described["output"]["name"]
  assert spec["resize_rule"]["mode"] == spec["resize"] == "squash"


def run_snippet(snippet, folder, data, digits_model):
  """Runs a README snippet in `folder` (where photo.png holds `data`): the label and probability
  it printed, and serving_default's outputs and class names for the same image."""
  root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
  run = subprocess.run(
    [sys.executable, "-c", snippet],
    cwd=folder,
    env={**os.environ, "PYTHONPATH": root, "TF_CPP_MIN_LOG_LEVEL": "2"},
    capture_output=True,
    text=True,
    timeout=300,
    check=False,
  )
  assert run.returncode == 0, run.stderr[-3000:]
  label, probability = run.stdout.split()
  served = training.load(digits_model[1]).signatures["serving_default"](
    image_bytes=tf.constant([data])
  )
  names = [c.decode() for c in served["class_names"].numpy()[0]]
  return label, probability, served, names


def readme_tflite_snippet() -> str:
  """The Python block of README.md's "TFLite for mobile and edge" section."""
  root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
  with open(os.path.join(root, "README.md")) as f:
    text = f.read()
  section = text[text.index("## TFLite for mobile and edge") :]
  section = section[: section.index("\n## ", 1)]
  return section.split("```python\n", 1)[1].split("```", 1)[0]


def test_the_readme_snippet_runs_and_answers_like_the_saved_model(exported, digits_model, tmp_path):
  output, _ = exported
  folder = tmp_path / "tflite"
  shutil.copytree(os.path.join(output.uri, filenames.TFLITE_FOLDER), folder)
  data, _ = gate_images(digits_model)[3]
  (folder / "photo.png").write_bytes(data)
  snippet = readme_tflite_snippet()
  assert "ai_edge_litert" not in snippet and "tf.lite.Interpreter" in snippet
  label, probability, served, names = run_snippet(snippet, folder, data, digits_model)
  assert label == names[int(served["probabilities"].numpy()[0].argmax())]
  assert 0 < float(probability) <= 1


@pytest.fixture(scope="module")
def both(digits_model, tmp_path_factory):
  """TFLiteExport's executor asked for both formats: (artifact, {format: report})."""
  output, _ = run_export(digits_model, tmp_path_factory.mktemp("both"), formats=("tflite", "onnx"))
  return output, {fmt: executor.read_report(output.uri, fmt) for fmt in ("tflite", "onnx")}


def test_the_onnx_model_classifies_real_digits_like_the_saved_model(both, digits_model):
  output, reports = both
  report = reports["onnx"]
  assert report["passed"] is True and reports["tflite"]["passed"] is True, report["reason"]
  assert output.get_string_custom_property("passed_formats") == "tflite,onnx"
  assert output.get_int_custom_property("passed") == 1
  folder = os.path.join(output.uri, "onnx")
  assert sorted(os.listdir(folder)) == [
    "README.md",
    "input.json",
    "labels.txt",
    "model.onnx",
    "parity.json",
  ]
  with open(os.path.join(folder, "input.json")) as f:
    spec = json.load(f)
  assert spec["input"] == {"name": "pixels", "dtype": "uint8", "shape": ["batch", 16, 16, 1]}
  assert spec["output"] == {"name": "probabilities", "dtype": "float32", "shape": ["batch", 10]}
  assert (spec["file"], spec["opset"], spec["labels"], spec["resize"]) == (
    "model.onnx",
    17,
    "labels.txt",
    "squash",
  )
  model = onnx.load(os.path.join(folder, "model.onnx"))
  assert [(o.domain, o.version) for o in model.opset_import if o.domain in ("", "ai.onnx")] == [
    ("", 17)
  ]
  assert [i.name for i in model.graph.input] == ["pixels"]  # no constants left as inputs
  # Recomputed here with onnxruntime, not taken from the report, on a batch of every image.
  images = gate_images(digits_model)
  session = onnxruntime.InferenceSession(
    os.path.join(folder, "model.onnx"), providers=["CPUExecutionProvider"]
  )
  pixels = scoring.decode([d for d, _ in images], spec)
  (probabilities,) = session.run(["probabilities"], {"pixels": pixels})
  served = (
    training.load(digits_model[1])
    .signatures["serving_default"](image_bytes=tf.constant([d for d, _ in images]))["probabilities"]
    .numpy()
  )
  np.testing.assert_allclose(probabilities, served, atol=1e-5)  # float32 both: the same answers
  assert report["onnx"]["agreement"] == 1.0 and report["images"] == len(images)
  assert report["onnx"]["accuracy"] == report["saved_model"]["accuracy"]
  assert report["onnx"]["bytes"] == os.path.getsize(os.path.join(folder, "model.onnx"))
  with open(os.path.join(folder, "parity.json")) as f:
    assert json.load(f) == report
  with open(os.path.join(folder, "labels.txt")) as f:
    assert f.read().splitlines() == [str(d) for d in range(10)]


def test_every_format_is_held_to_the_same_gate(digits_model, tmp_path):
  output, _ = run_export(
    digits_model, tmp_path / "strict", formats=("tflite", "onnx"), min_agreement=1.01
  )
  onnx_report = executor.read_report(output.uri, "onnx")
  assert onnx_report["passed"] is False
  assert onnx_report["reason"].startswith("onnx: top-1 agrees with the SavedModel on 100.0% of")
  assert executor.read_report(output.uri, "tflite")["reason"].startswith("int8: top-1 agrees")
  assert output.get_string_custom_property("passed_formats") == ""
  assert output.get_string_custom_property("reason").startswith("tflite: int8: top-1 agrees")


def test_one_formats_failure_leaves_the_other_to_pass(digits_model, tmp_path, monkeypatch):
  def broken(*_args, **_kwargs):
    raise RuntimeError("unsupported op\nlong converter log")

  monkeypatch.setattr(onnx_convert, "convert", broken)
  output, report = run_export(digits_model, tmp_path / "half", formats=("tflite", "onnx"))
  assert report["passed"] is True  # TFLite's
  assert executor.read_report(output.uri, "onnx") == {
    "passed": False,
    "reason": "export failed: RuntimeError: unsupported op",
  }
  assert output.get_string_custom_property("passed_formats") == "tflite"
  assert output.get_int_custom_property("passed") == 0
  assert executor.read_report(output.uri, "no-such-format") is None


def readme_onnx_snippet() -> str:
  """The Python block of README.md's "ONNX" section."""
  root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
  with open(os.path.join(root, "README.md")) as f:
    text = f.read()
  section = text[text.index("## ONNX") :]
  section = section[: section.index("\n## ", 1)]
  return section.split("```python\n", 1)[1].split("```", 1)[0]


def test_the_readme_onnx_snippet_runs_and_answers_like_the_saved_model(
  both, digits_model, tmp_path
):
  output, _ = both
  folder = tmp_path / "onnx"
  shutil.copytree(os.path.join(output.uri, "onnx"), folder)
  data, _ = gate_images(digits_model)[5]
  (folder / "photo.png").write_bytes(data)
  snippet = readme_onnx_snippet()
  assert snippet == onnx_folder.SNIPPET  # the folder's own README carries the same code
  label, probability, served, names = run_snippet(snippet, folder, data, digits_model)
  assert label == names[int(served["probabilities"].numpy()[0].argmax())]
  assert float(probability) == pytest.approx(float(served["scores"].numpy()[0]), abs=1e-5)
