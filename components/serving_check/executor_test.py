"""ServingCheck's executor on a CNN trained on real digits, and on SavedModels that would fail
in TF Serving."""

import os
import shutil

import numpy as np
import pytest
import tensorflow as tf
from tfx.types import standard_artifacts
from tfx.utils import path_utils

from components import scoring
from components.serving_check import executor
from tests.serving import Fixed28x28, FloatInput, NoClasses, run_check, saved_model
from trainer_module import contract


def test_a_good_model_is_blessed_and_stamped_with_warmup_requests_that_replay(
  digits_model, tmp_path
):
  examples, model, _ = digits_model
  blessing, report = run_check(examples, model, tmp_path / "blessing")
  assert report["blessed"] is True
  assert blessing.get_int_custom_property("blessed") == 1
  assert blessing.get_int_custom_property("has_model") == 1
  assert os.path.exists(os.path.join(blessing.uri, "INFRA_BLESSED"))
  assert sorted(report["classes"]) == [str(d) for d in range(10)]
  assert len(report["predicted"]) == 5
  assert report["signatures"] == ["serving_default", "serving_pixels"]

  stamped = path_utils.stamped_model_path(blessing.uri)
  requests = executor.read_warmup(path_utils.warmup_file_path(stamped))
  images = executor.read_images(examples, "eval", 5)
  assert [len(r.inputs["image_bytes"].string_val) for r in requests] == [1] * 5 + [5]
  assert [r.inputs["image_bytes"].string_val[0] for r in requests[:5]] == images
  assert all(
    r.model_spec.name == "digits" and r.model_spec.signature_name == "serving_default"
    for r in requests
  )
  serve = tf.saved_model.load(stamped).signatures["serving_default"]
  for request in requests:  # what TF Serving does with each record when it loads the model
    outputs = serve(image_bytes=tf.constant(tf.make_ndarray(request.inputs["image_bytes"])))
    executor.check_outputs(outputs, len(request.inputs["image_bytes"].string_val))
  assert [c.decode() for c in outputs["classes"].numpy()] == report["predicted"]


def test_no_warmup_batch_exceeds_the_batching_limit(digits_model, tmp_path):
  examples, model, _ = digits_model
  blessing, report = run_check(
    examples, model, tmp_path / "blessing", num_requests=5, max_batch_size=2
  )
  assert report["blessed"] is True
  requests = executor.read_warmup(
    path_utils.warmup_file_path(path_utils.stamped_model_path(blessing.uri))
  )
  assert [len(r.inputs["image_bytes"].string_val) for r in requests] == [1] * 5 + [2, 2, 1]
  images = executor.read_images(examples, "eval", 5)
  assert [b for r in requests[5:] for b in r.inputs["image_bytes"].string_val] == images
  assert len(report["predicted"]) == 5


def test_rest_body_decodes_to_the_same_bytes():
  images = [b"\x89PNG\r\n\x1a\n\x00", b"\xff\xd8\xff\xe0"]
  decoded = executor._rest_inputs(executor.rest_body(images))  # noqa: SLF001  (the REST path)
  assert list(decoded.numpy()) == images


@pytest.mark.parametrize(
  "module, reason",
  [
    (FloatInput, "takes ['x'], expected ['image_bytes']"),
    (NoClasses, "has no output 'classes'"),
    (Fixed28x28, "failed on a real image batch of 1"),
  ],
)
def test_a_model_that_would_fail_in_serving_is_not_blessed(digits_model, tmp_path, module, reason):
  examples, _, _ = digits_model
  model = saved_model(tmp_path / "model", module())
  blessing, report = run_check(examples, model, tmp_path / "blessing")
  assert report["blessed"] is False
  assert reason in report["reason"]
  assert blessing.get_int_custom_property("blessed") == 0
  assert blessing.get_string_custom_property("reason") == report["reason"]
  assert os.path.exists(os.path.join(blessing.uri, "INFRA_NOT_BLESSED"))
  assert not os.path.exists(path_utils.stamped_model_path(blessing.uri))


def test_serving_pixels_answers_like_serving_default_on_pixels_decoded_as_input_json_says(
  digits_model,
):
  examples, model, _ = digits_model
  model_dir = path_utils.serving_model_path(model.uri)
  loaded = tf.saved_model.load(model_dir)
  spec = contract.read_contract(model_dir)
  signature = loaded.signatures["serving_pixels"]
  executor.check_signature(signature, "serving_pixels", executor.pixels_spec(spec))
  images = executor.read_images(examples, "eval", 6)
  pixels = scoring.decode(images, spec)
  assert pixels.dtype == np.uint8 and pixels.shape == (6, 16, 16, 1)
  by_pixels = signature(pixels=tf.constant(pixels))
  by_bytes = loaded.signatures["serving_default"](image_bytes=tf.constant(images))
  executor.check_outputs(by_pixels, 6)
  for name in ("probabilities", "scores"):
    np.testing.assert_allclose(by_pixels[name].numpy(), by_bytes[name].numpy(), atol=1e-6)
  for name in ("classes", "class_names"):
    np.testing.assert_array_equal(by_pixels[name].numpy(), by_bytes[name].numpy())


def test_a_model_without_serving_pixels_is_not_blessed(digits_model, tmp_path):
  examples, model, _ = digits_model
  model_dir = path_utils.serving_model_path(model.uri)
  loaded = tf.saved_model.load(model_dir)
  older = standard_artifacts.Model()
  older.uri = str(tmp_path / "older")
  older_dir = path_utils.serving_model_path(older.uri)
  tf.saved_model.save(
    loaded, older_dir, signatures={"serving_default": loaded.signatures["serving_default"]}
  )
  shutil.copytree(os.path.join(model_dir, "assets.extra"), os.path.join(older_dir, "assets.extra"))
  _, report = run_check(examples, older, tmp_path / "blessing")
  assert report == {
    "blessed": False,
    "reason": "the SavedModel has no serving_pixels signature (a model trained before it was "
    "exported: rerun with --no-cache)",
  }


def test_a_pixels_signature_of_another_type_or_shape_is_named(tmp_path):
  spec = {"height": 16, "width": 16, "channels": 1}

  def signature(dtype, shape):
    """A SavedModel's serving_pixels (keyword inputs, as TF Serving calls it)."""
    module = tf.Module()
    module.serve = tf.function(
      lambda pixels: {"probabilities": tf.reduce_mean(tf.cast(pixels, tf.float32), axis=[1, 2])},
      input_signature=[tf.TensorSpec(shape, dtype, name="pixels")],
    )
    path = str(tmp_path / f"{dtype.name}_{shape[1]}")
    tf.saved_model.save(module, path, signatures={"serving_pixels": module.serve})
    return tf.saved_model.load(path).signatures["serving_pixels"]

  expected = executor.pixels_spec(spec)
  with pytest.raises(executor.ServingCheckError, match="serving_pixels input pixels is float32"):
    executor.check_signature(signature(tf.float32, [None, 16, 16, 1]), "serving_pixels", expected)
  with pytest.raises(executor.ServingCheckError, match=r"\(None, 28, 28, 1\), expected uint8"):
    executor.check_signature(signature(tf.uint8, [None, 28, 28, 1]), "serving_pixels", expected)
  with pytest.raises(executor.ServingCheckError, match="has no output 'classes'"):
    executor.check_signature(signature(tf.uint8, [None, 16, 16, 1]), "serving_pixels", expected)


def test_check_outputs_rejects_probabilities_that_do_not_sum_to_one():
  outputs = {
    "probabilities": tf.constant([[0.2, 0.2]]),
    "scores": tf.constant([0.2]),
    "classes": tf.constant([b"a"]),
    "class_names": tf.constant([[b"a", b"b"]]),
  }
  with pytest.raises(executor.ServingCheckError, match="sum to 1"):
    executor.check_outputs(outputs, 1)
  outputs["probabilities"] = tf.constant([[0.4, 0.6]])
  outputs["scores"] = tf.constant([0.6])
  with pytest.raises(executor.ServingCheckError, match="most probable"):
    executor.check_outputs(outputs, 1)
  outputs["classes"] = tf.constant([b"b"])
  executor.check_outputs(outputs, 1)
  assert np.isclose(outputs["scores"].numpy()[0], 0.6)
