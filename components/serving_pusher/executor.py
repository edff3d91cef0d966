"""ServingPusher executor: stage, rename into place, then write TF Serving's config files."""

import base64
import json
import os
import time
from typing import Dict, List, Optional

from absl import logging
from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2
from tfx.components.pusher import executor as pusher_executor
from tfx.dsl.io import fileio
from tfx.proto import pusher_pb2
from tfx.types import artifact_utils
from tfx.types import standard_component_specs as spec
from tfx.utils import io_utils, json_utils, path_utils, proto_utils

from components.warmup import read_warmup
from schemas import filenames, properties
from schemas.features import SERVING_INPUT
from schemas.settings import EXPORT_FORMATS

STAGING_PREFIX = ".incomplete-"  # not a number, so TF Serving never loads a staged version
TFLITE_KEY = "tflite_model"  # optional input: a TFLiteExport output (its passed formats' folders)


def _is_local(path: str) -> bool:
  return "://" not in path


def _free_version(base: str) -> str:
  """A Unix-time version above every version there (TF Serving serves the highest number;
  two pushes in one second get consecutive numbers)."""
  return str(max([int(time.time())] + [v + 1 for v in versions(base)]))


def pushed_version_of(model_path: str, base: str):
  """The newest version if it holds this very SavedModel (same fingerprint.pb), else None.

  A re-run whose Trainer and ServingCheck were cached pushes the same model again: it is not
  copied into a new version, so TF Serving does not reload it.
  """
  newest = versions(base)[-1:]
  if not newest:
    return None
  fingerprints = [
    os.path.join(d, filenames.FINGERPRINT) for d in (model_path, os.path.join(base, str(newest[0])))
  ]
  if not all(fileio.exists(f) for f in fingerprints):
    return None
  candidate, newest_fingerprint = (io_utils.read_bytes_file(f) for f in fingerprints)
  return str(newest[0]) if candidate == newest_fingerprint else None


def clean_staging(base: str) -> List[str]:
  """Removes staging folders left by runs that were killed mid-copy; returns their names.

  One run at a time holds the output dir (local_runner's lock), so any staging folder but this
  process's own is an orphan.
  """
  if not fileio.exists(base):
    return []
  orphans = [
    n.rstrip("/")
    for n in fileio.listdir(base)
    if n.startswith(STAGING_PREFIX) and not n.rstrip("/").endswith(f"-{os.getpid()}")
  ]
  for name in orphans:
    fileio.rmtree(os.path.join(base, name))
  return orphans


def versions(base: str) -> List[int]:
  """The numbered version folders under base, oldest first."""
  if not fileio.exists(base):
    return []
  return sorted(int(n.rstrip("/")) for n in fileio.listdir(base) if n.rstrip("/").isdigit())


def prune(base: str, keep: int, extra_dirs=("reports",)) -> List[str]:
  """Removes the oldest versions beyond `keep` (never the newest), with what belongs to them
  under base/<extra_dir>/<version>; returns the removed versions."""
  removed = [str(v) for v in versions(base)[: -max(keep, 1)]]
  for version in removed:
    for path in [os.path.join(base, version)] + [
      os.path.join(base, d, version) for d in extra_dirs
    ]:
      if fileio.exists(path):
        fileio.rmtree(path)
  return removed


def write_version(
  model_path: str, base: str, version: str, extras: Optional[Dict[str, str]] = None
) -> str:
  """Copies the model to base/version so that the directory appears complete or not at all;
  `extras` (name -> folder) are copied into it as sub-folders (e.g. tflite/).

  Locally the copy is staged under a hidden name in the same directory and renamed, which is
  atomic. Object stores (gs://) have no atomic rename: there, like TFX's Pusher, the files are
  copied with saved_model.pb last, which is what TF Serving's loader waits for.
  """
  target = os.path.join(base, version)
  fileio.makedirs(base)
  if not _is_local(base):
    io_utils.copy_dir(model_path, target, deny_regex_patterns=[r"saved_model\.pb"])
    for name, folder in (extras or {}).items():
      io_utils.copy_dir(folder, os.path.join(target, name))
    io_utils.copy_file(
      os.path.join(model_path, "saved_model.pb"), os.path.join(target, "saved_model.pb")
    )
    return target
  staging = os.path.join(base, f"{STAGING_PREFIX}{version}-{os.getpid()}")
  try:
    io_utils.copy_dir(model_path, staging)
    for name, folder in (extras or {}).items():
      io_utils.copy_dir(folder, os.path.join(staging, name))
    os.rename(staging, target)
  finally:
    if fileio.exists(staging):
      fileio.rmtree(staging)
  return target


def add_folder(version_dir: str, name: str, folder: str) -> None:
  """Adds a sub-folder to a version already written (a re-push of the same model that now has
  TFLite files), staged and renamed into place locally."""
  target = os.path.join(version_dir, name)
  if fileio.exists(target):
    return
  if not _is_local(version_dir):
    io_utils.copy_dir(folder, target)
    return
  staging = os.path.join(version_dir, f"{STAGING_PREFIX}{name}-{os.getpid()}")
  try:
    io_utils.copy_dir(folder, staging)
    os.rename(staging, target)
  finally:
    if fileio.exists(staging):
      fileio.rmtree(staging)


def export_folders(input_dict) -> Dict[str, str]:
  """name -> folder of each TFLiteExport format to push with the model: those whose parity gate
  passed (each format's folder is named after it: tflite/, onnx/)."""
  artifacts = input_dict.get(TFLITE_KEY) or []
  if not artifacts:
    return {}
  passed = artifacts[0].get_string_custom_property(properties.PASSED_FORMATS)
  return {fmt: os.path.join(artifacts[0].uri, fmt) for fmt in passed.split(",") if fmt}


def _models_config(model_name: str, base_path: str) -> str:
  """TF Serving's --model_config_file: one model, its versions under base_path."""
  config = model_server_config_pb2.ModelServerConfig()
  model = config.model_config_list.config.add()
  model.name, model.base_path, model.model_platform = model_name, base_path, "tensorflow"
  return text_format.MessageToString(config)


def serving_files(base: str, model_name: str, max_batch_size: int, version_dir: str):
  """name -> text of the files written beside the versions."""
  mounted = f"/models/{model_name}"
  files = {
    "models.config": _models_config(model_name, mounted),
    "batching_parameters.txt": (
      f"max_batch_size {{ value: {max_batch_size} }}\n"
      "batch_timeout_micros { value: 2000 }\n"
      "max_enqueued_batches { value: 100 }\n"
      "num_batch_threads { value: 4 }\n"
    ),
  }
  warmup = path_utils.warmup_file_path(version_dir)
  if fileio.exists(warmup):
    first = read_warmup(warmup)[0]
    image = first.inputs[SERVING_INPUT].string_val[0]
    files["request.json"] = json.dumps({"instances": [{"b64": base64.b64encode(image).decode()}]})
  host_dir = os.path.abspath(base) if _is_local(base) else base
  files["README.md"] = f"""# TF Serving: {model_name}

Each numbered folder is a model version (the newest is served); its
`assets.extra/tf_serving_warmup_requests` holds real images TF Serving replays before it
answers. Serve with:

```sh
docker run --rm -p 8500:8500 -p 8501:8501 -v "{host_dir}:{mounted}" tensorflow/serving \\
  --model_config_file={mounted}/models.config \\
  --enable_batching --batching_parameters_file={mounted}/batching_parameters.txt
```

Ask it about an image (`request.json` holds one real image in this shape):

```sh
curl -s -d "{{\\"instances\\": [{{\\"b64\\": \\"$(base64 -w0 image.png)\\"}}]}}" \\
  http://localhost:8501/v1/models/{model_name}:predict
curl -s -d @request.json http://localhost:8501/v1/models/{model_name}:predict
```

The answer has `classes`, `scores`, `probabilities` and `class_names` per image.
"""
  return files


def pushed_model_uri(input_dict) -> str:
  """The Trainer's Model artifact being pushed: the `model` input, or the one the ServingCheck
  blessing checked (and carries, stamped with its warmup requests)."""
  if input_dict.get(spec.MODEL_KEY):
    return artifact_utils.get_single_instance(input_dict[spec.MODEL_KEY]).uri
  blessing = artifact_utils.get_single_instance(input_dict[spec.INFRA_BLESSING_KEY])
  return blessing.get_string_custom_property(properties.MODEL_URI)


class Executor(pusher_executor.Executor):
  """TFX's Pusher, but a version directory never appears half written."""

  def Do(self, input_dict, output_dict, exec_properties) -> None:
    self._log_startup(input_dict, output_dict, exec_properties)
    model_push = artifact_utils.get_single_instance(output_dict[spec.PUSHED_MODEL_KEY])
    if not self.CheckBlessing(input_dict):
      self._MarkNotPushed(model_push)
      self._record(model_push, input_dict, exec_properties, None)
      return
    model_path = self.GetModelPath(input_dict)
    destination = pusher_pb2.PushDestination()
    proto_utils.json_to_proto(exec_properties[spec.PUSH_DESTINATION_KEY], destination)
    if destination.WhichOneof("destination") != "filesystem":
      raise NotImplementedError("ServingPusher pushes to a filesystem destination only")
    custom = json_utils.loads(exec_properties.get(spec.CUSTOM_CONFIG_KEY) or "null") or {}
    base = destination.filesystem.base_directory
    for orphan in clean_staging(base):
      logging.info("Removed %s, left by an interrupted push", os.path.join(base, orphan))
    previous = versions(base)[-1:]
    version = pushed_version_of(model_path, base)
    exports = export_folders(input_dict)
    if version:
      serving_path = os.path.join(base, version)
      logging.info("This model is already the newest version, %s; not copied again", version)
      for name, folder in exports.items():
        add_folder(serving_path, name, folder)
    else:
      version = _free_version(base)
      serving_path = write_version(model_path, base, version, exports)
    for name, text in serving_files(
      base, custom.get("model_name", "model"), int(custom.get("max_batch_size", 64)), serving_path
    ).items():
      io_utils.write_string_file(os.path.join(base, name), text)
    logging.info("Model version %s written to %s", version, serving_path)
    for old in prune(base, int(custom.get("keep_versions", 5))):
      logging.info("Removed version %s (--keep-versions %s)", old, custom.get("keep_versions"))
    io_utils.copy_dir(model_path, model_push.uri)
    self._MarkPushed(model_push, pushed_destination=serving_path, pushed_version=version)
    for fmt in EXPORT_FORMATS:
      model_push.set_int_custom_property(properties.pushed_format(fmt), int(fmt in exports))
    self._record(model_push, input_dict, exec_properties, version, previous)

  def _record(self, model_push, input_dict, exec_properties, version, previous=None) -> None:
    """What the run record and the served-model baseline read: the version served before this
    push, whether this push wrote a new one, the Model artifact it serves, and the run."""
    if previous is None:
      destination = pusher_pb2.PushDestination()
      proto_utils.json_to_proto(exec_properties[spec.PUSH_DESTINATION_KEY], destination)
      previous = versions(destination.filesystem.base_directory)[-1:]
    before = str(previous[0]) if previous else ""
    model_push.set_string_custom_property(properties.PREVIOUS_VERSION, before)
    model_push.set_int_custom_property(
      properties.NEW_VERSION, int(bool(version) and version != before)
    )
    model_push.set_string_custom_property(properties.MODEL_URI, pushed_model_uri(input_dict))
    # Kubeflow's executors get no run id: their outputs lie under <root>/<run>/<task>/<key>.
    run_id = self._context.pipeline_run_id if self._context else None
    model_push.set_string_custom_property(
      properties.RUN_ID,
      run_id or os.path.basename(os.path.dirname(os.path.dirname(model_push.uri.rstrip("/")))),
    )
