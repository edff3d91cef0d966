"""The run record's export blocks, read from a real TFLiteExport artifact and a push: each
format's figures, its pushed folder checked on disk, or why not."""

import os
import shutil

from tfx.types import standard_artifacts

from reporting import readers
from tests import training


def _pushed(destination, **formats):
  """The MLMD record of a push (what the run record reads)."""
  pushed = standard_artifacts.PushedModel()
  pushed.set_int_custom_property("pushed", 1)
  pushed.set_string_custom_property("pushed_destination", str(destination))
  for fmt, flag in formats.items():
    pushed.set_int_custom_property(f"{fmt}_pushed", flag)
  return pushed.mlmd_artifact


def test_each_formats_block_from_the_export_and_the_push(digits_model, tmp_path):
  exported, _ = training.run_tflite_export(
    digits_model, str(tmp_path / "export"), formats=("tflite", "onnx")
  )
  export = exported.mlmd_artifact
  version = tmp_path / "serving" / "1"
  for fmt in ("tflite", "onnx"):
    shutil.copytree(os.path.join(export.uri, fmt), version / fmt)
  onnx = readers.export_block(export, _pushed(version, tflite=1, onnx=1), "onnx")
  assert onnx["passed"] and onnx["path"] == str(version / "onnx") and onnx["reason"] is None
  assert (onnx["file"], onnx["opset"], onnx["agreement"]) == ("model.onnx", 17, 1.0)
  assert onnx["bytes"] == os.path.getsize(version / "onnx" / "model.onnx")
  tflite = readers.export_block(export, _pushed(version, tflite=1, onnx=1), "tflite")
  assert tflite["path"] == str(version / "tflite") and tflite["int8"]["file"] == "model_int8.tflite"
  # A folder that lost its model is a push error, not a path.
  os.remove(version / "onnx" / "model.onnx")
  broken = readers.export_block(export, _pushed(version, tflite=1, onnx=1), "onnx")
  assert broken["path"] is None and broken["push_error"] == f"{version / 'onnx'} lacks model.onnx"
  # Not pushed with the version, or the version not pushed at all: why.
  unpushed = standard_artifacts.PushedModel()
  unpushed.set_int_custom_property("pushed", 0)
  not_pushed = readers.export_block(export, unpushed.mlmd_artifact, "onnx")
  assert not_pushed["path"] is None and not_pushed["reason"] == "the model was not pushed"
  assert readers.export_block(export, _pushed(version, onnx=0), "onnx")["path"] is None
  # A format not asked for has no block.
  tflite_only, _ = training.run_tflite_export(digits_model, str(tmp_path / "tflite_only"))
  assert readers.export_block(tflite_only.mlmd_artifact, _pushed(version), "onnx") == {}
  assert readers.export_block(None, None, "tflite") == {}
