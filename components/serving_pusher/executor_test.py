"""ServingPusher's executor on a real checked model: TF Serving's layout, atomic versions."""

import base64
import json
import os
import re
import shutil

import pytest
import tensorflow as tf
from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2
from tfx import types
from tfx import v1 as tfx
from tfx.dsl.io import filesystem
from tfx.types import standard_artifacts
from tfx.utils import path_utils

from components.serving_pusher import executor
from components.serving_pusher.component import ServingPusher
from components.tflite_export import TFLiteModel
from tests.serving import Fixed28x28, NoClasses, run_check, saved_model


def _blessing(blessed: int):
  blessing = standard_artifacts.ModelBlessing()
  blessing.set_int_custom_property("blessed", blessed)
  return blessing


def push(infra_blessing, base, tmp_path, model_blessed=1, keep_versions=5, tflite=None):
  pushed = standard_artifacts.PushedModel()
  pushed.uri = str(tmp_path / "pushed_artifact")
  component = ServingPusher(
    model_blessing=types.Channel(type=standard_artifacts.ModelBlessing),
    infra_blessing=types.Channel(type=standard_artifacts.InfraBlessing),
    tflite_model=types.Channel(type=TFLiteModel),
    push_destination=tfx.proto.PushDestination(
      filesystem=tfx.proto.PushDestination.Filesystem(base_directory=str(base))
    ),
    custom_config={"model_name": "digits", "max_batch_size": 32, "keep_versions": keep_versions},
  )
  inputs = {"model_blessing": [_blessing(model_blessed)], "infra_blessing": [infra_blessing]}
  if tflite is not None:
    inputs["tflite_model"] = [tflite]
  executor.Executor().Do(inputs, {"pushed_model": [pushed]}, dict(component.exec_properties))
  return pushed


@pytest.fixture(scope="module")
def checked(digits_model, tmp_path_factory):
  examples, model, _ = digits_model
  blessing, report = run_check(examples, model, tmp_path_factory.mktemp("blessing"))
  assert report["blessed"]
  return blessing


def test_push_writes_a_version_tf_serving_can_load_with_its_config_files(checked, tmp_path):
  base = tmp_path / "serving"
  pushed = push(checked, base, tmp_path)
  assert pushed.get_int_custom_property("pushed") == 1
  version = pushed.get_string_custom_property("pushed_version")
  assert pushed.get_string_custom_property("pushed_destination") == str(base / version)
  assert sorted(os.listdir(base)) == sorted(
    [version, "models.config", "batching_parameters.txt", "request.json", "README.md"]
  )
  version_dir = str(base / version)
  assert os.path.isfile(path_utils.warmup_file_path(version_dir))

  config = text_format.Parse(
    (base / "models.config").read_text(), model_server_config_pb2.ModelServerConfig()
  )
  (model_config,) = config.model_config_list.config
  assert (model_config.name, model_config.base_path, model_config.model_platform) == (
    "digits",
    "/models/digits",
    "tensorflow",
  )
  # BatchingParameters (not in the tensorflow-serving-api wheel): wrapped scalar fields.
  batching = dict(
    re.findall(r"^(\w+) \{ value: (\d+) \}$", (base / "batching_parameters.txt").read_text(), re.M)
  )
  assert batching == {
    "max_batch_size": "32",
    "batch_timeout_micros": "2000",
    "max_enqueued_batches": "100",
    "num_batch_threads": "4",
  }
  readme = (base / "README.md").read_text()
  assert f'-v "{base}:/models/digits" tensorflow/serving' in readme
  assert "http://localhost:8501/v1/models/digits:predict" in readme

  # request.json is a REST body with a real image; the pushed model answers it.
  (instance,) = json.loads((base / "request.json").read_text())["instances"]
  outputs = tf.saved_model.load(version_dir).signatures["serving_default"](
    image_bytes=tf.constant([base64.b64decode(instance["b64"])])
  )
  assert outputs["classes"].numpy()[0].decode() in {str(d) for d in range(10)}


def test_the_same_model_is_not_pushed_twice_but_another_gets_a_new_version(checked, tmp_path):
  base = tmp_path / "serving"
  first = push(checked, base, tmp_path).get_string_custom_property("pushed_version")
  again = push(checked, base, tmp_path)  # e.g. a re-run with Trainer and ServingCheck cached
  assert again.get_int_custom_property("pushed") == 1
  assert again.get_string_custom_property("pushed_version") == first
  assert [n for n in os.listdir(base) if n.isdigit()] == [first]

  other = standard_artifacts.InfraBlessing()  # a different SavedModel, stamped as a check would
  other.uri = str(tmp_path / "other_blessing")
  other.set_int_custom_property("blessed", 1)
  other.set_int_custom_property("has_model", 1)
  module = NoClasses()
  tf.saved_model.save(
    module, path_utils.stamped_model_path(other.uri), signatures={"serving_default": module.serve}
  )
  second = push(other, base, tmp_path).get_string_custom_property("pushed_version")
  assert int(second) > int(first)
  assert sorted(n for n in os.listdir(base) if n.isdigit()) == sorted([first, second])


def test_a_removed_destination_is_pushed_again_and_orphaned_staging_is_cleaned(checked, tmp_path):
  base = tmp_path / "serving"
  push(checked, base, tmp_path)
  tf.io.gfile.rmtree(str(base))  # a user cleaned up the serving dir
  os.makedirs(base / ".incomplete-123-4242" / "variables")  # a push killed mid-copy
  again = push(checked, base, tmp_path)
  path = again.get_string_custom_property("pushed_destination")
  assert again.get_int_custom_property("pushed") == 1
  assert os.path.isfile(os.path.join(path, "saved_model.pb"))
  assert [n for n in os.listdir(base) if n.isdigit()] == [
    again.get_string_custom_property("pushed_version")
  ]
  assert not [n for n in os.listdir(base) if n.startswith(".incomplete-")]


def _stamped(tmp_path, name, module):
  """An InfraBlessing holding `module` as a checked, stamped SavedModel (another model)."""
  blessing = standard_artifacts.InfraBlessing()
  blessing.uri = str(tmp_path / name)
  blessing.set_int_custom_property("blessed", 1)
  blessing.set_int_custom_property("has_model", 1)
  tf.saved_model.save(
    module,
    path_utils.stamped_model_path(blessing.uri),
    signatures={"serving_default": module.serve},
  )
  return blessing


def test_only_the_newest_versions_are_kept_with_their_reports(checked, tmp_path):
  base = tmp_path / "serving"
  pushed = []
  for blessing in (
    checked,
    _stamped(tmp_path, "b", NoClasses()),
    _stamped(tmp_path, "c", Fixed28x28()),
  ):
    version = push(blessing, base, tmp_path, keep_versions=2).get_string_custom_property(
      "pushed_version"
    )
    os.makedirs(base / "reports" / version)  # what the runner writes beside a push
    pushed.append(version)
  assert sorted(n for n in os.listdir(base) if n.isdigit()) == sorted(pushed[1:])
  assert sorted(os.listdir(base / "reports")) == sorted(pushed[1:])
  again = push(_stamped(tmp_path, "c2", Fixed28x28()), base, tmp_path, keep_versions=1)
  assert [n for n in os.listdir(base) if n.isdigit()] == [
    again.get_string_custom_property("pushed_version")
  ]  # the newest is never removed


def test_nothing_is_pushed_without_both_blessings(checked, digits_model, tmp_path):
  pushed = push(checked, tmp_path / "serving", tmp_path, model_blessed=0)
  assert pushed.get_int_custom_property("pushed") == 0
  assert not os.path.exists(tmp_path / "serving")
  examples, _, _ = digits_model
  failed, _ = run_check(
    examples, saved_model(tmp_path / "broken", Fixed28x28()), tmp_path / "failed_check"
  )
  pushed = push(failed, tmp_path / "serving", tmp_path)
  assert pushed.get_int_custom_property("pushed") == 0
  assert not os.path.exists(tmp_path / "serving")


def test_a_copy_that_fails_midway_leaves_no_version_behind(checked, tmp_path):
  model_dir = tmp_path / "model"
  tf.io.gfile.makedirs(str(model_dir))
  for name in ("saved_model.pb", "fingerprint.pb"):
    tf.io.gfile.copy(
      os.path.join(path_utils.stamped_model_path(checked.uri), name), str(model_dir / name)
    )
  os.symlink(tmp_path / "missing", model_dir / "variables")  # the copy fails on this entry
  base = tmp_path / "serving"
  with pytest.raises(filesystem.NotFoundError):  # the link points nowhere
    executor.write_version(str(model_dir), str(base), "7")
  assert os.listdir(base) == []  # neither the version nor the staging copy


def test_tflite_files_that_passed_parity_are_pushed_inside_the_version(
  checked, digits_tflite, tmp_path
):
  tflite, report = digits_tflite
  assert report["passed"]
  base = tmp_path / "serving"
  pushed = push(checked, base, tmp_path, tflite=tflite)
  assert pushed.get_int_custom_property("tflite_pushed") == 1
  version_dir = base / pushed.get_string_custom_property("pushed_version")
  assert sorted(os.listdir(version_dir / "tflite")) == sorted(
    os.listdir(os.path.join(tflite.uri, "tflite"))
  )
  assert (version_dir / "tflite" / "model_int8.tflite").read_bytes() == open(
    os.path.join(tflite.uri, "tflite", "model_int8.tflite"), "rb"
  ).read()
  # TF Serving's loader still finds the SavedModel as it was.
  assert os.path.isfile(version_dir / "saved_model.pb")
  tf.saved_model.load(str(version_dir)).signatures["serving_default"]

  # The same model pushed again with its folder missing (pushed before it existed) gets it.
  tf.io.gfile.rmtree(str(version_dir / "tflite"))
  again = push(checked, base, tmp_path, tflite=tflite)
  assert again.get_string_custom_property("pushed_version") == version_dir.name
  assert os.path.isfile(version_dir / "tflite" / "model_float16.tflite")
  assert not [n for n in os.listdir(version_dir) if n.startswith(".incomplete-")]


def test_each_format_that_passed_goes_into_the_version_and_one_that_failed_does_not(
  checked, digits_tflite, tmp_path
):
  exports = TFLiteModel()
  exports.uri = str(tmp_path / "exports")
  shutil.copytree(os.path.join(digits_tflite[0].uri, "tflite"), tmp_path / "exports" / "tflite")
  (tmp_path / "exports" / "onnx").mkdir()
  (tmp_path / "exports" / "onnx" / "model.onnx").write_bytes(b"onnx")
  exports.set_string_custom_property("passed_formats", "tflite,onnx")
  base = tmp_path / "serving"
  pushed = push(checked, base, tmp_path, tflite=exports)
  version_dir = base / pushed.get_string_custom_property("pushed_version")
  assert (version_dir / "onnx" / "model.onnx").read_bytes() == b"onnx"
  assert os.path.isfile(version_dir / "tflite" / "model_int8.tflite")
  assert (
    pushed.get_int_custom_property("tflite_pushed"),
    pushed.get_int_custom_property("onnx_pushed"),
  ) == (1, 1)
  exports.set_string_custom_property("passed_formats", "tflite")  # ONNX failed its gate
  only = push(checked, tmp_path / "other", tmp_path, tflite=exports)
  other = tmp_path / "other" / only.get_string_custom_property("pushed_version")
  assert sorted(n for n in os.listdir(other) if n in ("tflite", "onnx")) == ["tflite"]
  assert only.get_int_custom_property("onnx_pushed") == 0


def test_tflite_files_that_failed_parity_are_not_pushed_but_the_model_is(
  checked, digits_tflite, tmp_path
):
  failed = TFLiteModel()
  failed.uri = digits_tflite[0].uri  # the same files, but the gate said no
  failed.set_int_custom_property("passed", 0)
  failed.set_string_custom_property("passed_formats", "")
  failed.set_string_custom_property("reason", "int8: top-1 agrees on 90.0 %")
  base = tmp_path / "serving"
  pushed = push(checked, base, tmp_path, tflite=failed)
  assert pushed.get_int_custom_property("pushed") == 1
  assert pushed.get_int_custom_property("tflite_pushed") == 0
  assert pushed.get_int_custom_property("onnx_pushed") == 0
  version_dir = base / pushed.get_string_custom_property("pushed_version")
  assert os.path.isfile(version_dir / "saved_model.pb")
  assert not os.path.exists(version_dir / "tflite")
