"""A run's executions and their artifacts, as the run record's builder reads them. Two sources
give the same shape (`output`, `input`, `input_list`, `executions`, `run_id`, `stages`):
- StoreRun: a LocalDagRunner run, read from its MLMD store;
- ArtifactRun: artifacts handed over by an orchestrator (the RunReport executor's inputs under
  Kubeflow / Vertex AI, tools.spec_runner's outputs of a compiled spec's tasks).
"""

import dataclasses
import os
from typing import Any, Dict, List, Mapping, Optional, Tuple

from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2

_OUTPUT_EVENTS = (metadata_store_pb2.Event.OUTPUT, metadata_store_pb2.Event.DECLARED_OUTPUT)
_INPUT_EVENTS = (metadata_store_pb2.Event.INPUT, metadata_store_pb2.Event.DECLARED_INPUT)
_STATE = metadata_store_pb2.Execution.State
SERVING_MODEL_DIR = "Format-Serving"  # TFX's folder of the SavedModel inside a Model artifact


@dataclasses.dataclass(frozen=True)
class Execution:
  """What a stage's execution in this run was: its MLMD state name (COMPLETE, CACHED, FAILED,
  RUNNING, ...), its seconds, and for a cached one the run whose outputs it reused."""

  state: str
  seconds: Optional[float] = None
  from_run: Optional[str] = None


class StoreRun:
  """The executions of one run of a pipeline (default: its latest) and their artifacts."""

  def __init__(
    self, store: metadata_store.MetadataStore, pipeline_name: str, run_id: Optional[str] = None
  ):
    runs = [
      c
      for c in store.get_contexts_by_type("pipeline_run")
      if pipeline_name in {p.name for p in store.get_parent_contexts_by_context(c.id)}
      and run_id in (None, c.name)
    ]
    if not runs:
      raise LookupError(
        f"no run {run_id + ' ' if run_id else ''}of pipeline {pipeline_name!r} "
        "in the metadata store"
      )
    run = max(runs, key=lambda c: (c.create_time_since_epoch, c.id))
    self._store = store
    self.run_id = run.name
    self.executions: Dict[str, metadata_store_pb2.Execution] = {}
    self.outputs: Dict[str, Dict[str, List[metadata_store_pb2.Artifact]]] = {}
    self.inputs: Dict[str, Dict[str, List[metadata_store_pb2.Artifact]]] = {}
    for execution in store.get_executions_by_context(run.id):
      node = next(
        c.name for c in store.get_contexts_by_execution(execution.id) if c.type == "node"
      )[len(pipeline_name) + 1 :]  # "<pipeline>.<node id>"
      self.executions[node] = execution
      events = store.get_events_by_execution_ids([execution.id])
      artifacts = {a.id: a for a in store.get_artifacts_by_id([e.artifact_id for e in events])}
      for event in events:
        key = event.path.steps[0].key if event.path.steps else ""
        table = (
          self.outputs
          if event.type in _OUTPUT_EVENTS
          else self.inputs
          if event.type in _INPUT_EVENTS
          else None
        )
        if table is not None:
          table.setdefault(node, {}).setdefault(key, []).append(artifacts[event.artifact_id])

  def output(self, node: str, key: str) -> Optional[metadata_store_pb2.Artifact]:
    artifacts = self.outputs.get(node, {}).get(key)
    return artifacts[-1] if artifacts else None

  def input(self, node: str, key: str) -> Optional[metadata_store_pb2.Artifact]:
    artifacts = self.inputs.get(node, {}).get(key)
    return artifacts[-1] if artifacts else None

  def input_list(self, node: str, key: str) -> List[metadata_store_pb2.Artifact]:
    return list(self.inputs.get(node, {}).get(key, []))

  def stages(self) -> Dict[str, Execution]:
    """Each node's execution in this run, in the order they started."""
    return {
      node: Execution(
        _STATE.Name(e.last_known_state),
        round((e.last_update_time_since_epoch - e.create_time_since_epoch) / 1000, 1),
        self._producing_run(node) if e.last_known_state == _STATE.CACHED else None,
      )
      for node, e in sorted(self.executions.items(), key=lambda kv: kv[1].id)
    }

  def run_of_uri(self, uri: Optional[str]) -> Optional[str]:
    """The run whose execution wrote the artifact at `uri` (a model's serving folder inside it
    names the model), or None."""
    if not uri:
      return None
    uri = uri.rstrip("/")
    if os.path.basename(uri) == SERVING_MODEL_DIR:
      uri = os.path.dirname(uri)
    artifacts = self._store.get_artifacts_by_uri(uri)
    if not artifacts:
      return None
    return self._run_of_output(artifacts[0].id)

  def _run_of_output(self, artifact_id: int, other_than: Optional[int] = None) -> Optional[str]:
    """The pipeline run of the first execution that output this artifact."""
    producers = sorted(
      e.execution_id
      for e in self._store.get_events_by_artifact_ids([artifact_id])
      if e.type in _OUTPUT_EVENTS and e.execution_id != other_than
    )
    for context in self._store.get_contexts_by_execution(producers[0]) if producers else []:
      if context.type == "pipeline_run":
        return context.name
    return None

  def _producing_run(self, node: str) -> Optional[str]:
    """The run whose execution wrote the outputs a cached execution reused."""
    artifacts = [a for outputs in self.outputs.get(node, {}).values() for a in outputs]
    if not artifacts:
      return None
    return self._run_of_output(artifacts[0].id, other_than=self.executions[node].id)


SQLITE_HEADER = b"SQLite format 3\x00"


class StoreError(Exception):
  """The metadata store cannot be read: one line naming the file, not MLMD's SQL."""


def check_store(metadata_path: str) -> None:
  """Raises StoreError when an existing metadata store cannot be opened (a corrupt, truncated or
  foreign file); a missing one is fine (the first run creates it)."""
  if not os.path.exists(metadata_path):
    return
  with open(metadata_path, "rb") as f:
    header = f.read(len(SQLITE_HEADER))
  reason = None if header == SQLITE_HEADER else "not an SQLite database"
  if reason is None:
    try:
      _store(metadata_path, readonly=True).get_context_types()
    except Exception as e:  # noqa: BLE001  (MLMD raises its own errors, SQL in their text)
      reason = type(e).__name__
  if reason:
    raise StoreError(
      f"{metadata_path} is not a readable metadata store ({reason}): move it away, or choose "
      "another --output-dir, to start afresh"
    )


def _store(metadata_path: str, readonly: bool) -> metadata_store.MetadataStore:
  connection = metadata_store_pb2.ConnectionConfig()
  connection.sqlite.filename_uri = metadata_path
  if readonly:
    connection.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
  return metadata_store.MetadataStore(connection)


def open_run(metadata_path: str, pipeline_name: str, run_id: Optional[str] = None) -> StoreRun:
  """Run `run_id` (default: the latest) of a pipeline, from its SQLite MLMD store, read-only
  (StoreError for a store that cannot be read)."""
  check_store(metadata_path)
  return StoreRun(_store(metadata_path, readonly=True), pipeline_name, run_id)


class ArtifactRun:
  """A run given as (node, output key) -> artifact, with the seconds and parameters an
  orchestrator reports for its tasks. An orchestrator runs every task it reaches (no cache),
  and the Evaluator's baseline is read from the evaluation itself, so `input` finds nothing."""

  def __init__(
    self,
    run_id: str,
    artifacts: Mapping[Tuple[str, str], metadata_store_pb2.Artifact],
    seconds: Optional[Mapping[str, float]] = None,
    parameters: Optional[Mapping[str, Mapping[str, Any]]] = None,
  ):
    self.run_id = run_id
    self._artifacts = dict(artifacts)
    self._seconds = dict(seconds or {})
    self.executions: Dict[str, metadata_store_pb2.Execution] = {}
    for node, values in (parameters or {}).items():
      execution = metadata_store_pb2.Execution()
      for key, value in values.items():
        if isinstance(value, str):
          execution.custom_properties[key].string_value = value
      self.executions[node] = execution

  def output(self, node: str, key: str) -> Optional[metadata_store_pb2.Artifact]:
    return self._artifacts.get((node, key))

  def input(self, node: str, key: str) -> None:
    del node, key

  def input_list(self, node: str, key: str) -> List[metadata_store_pb2.Artifact]:
    del node, key
    return []

  def stages(self) -> Dict[str, Execution]:
    return {node: Execution("COMPLETE", seconds) for node, seconds in self._seconds.items()}


def from_metadata(uri: str, metadata: Mapping[str, Any]) -> metadata_store_pb2.Artifact:
  """An artifact given as URI and KFP metadata (numbers, strings) as MLMD holds it: a whole
  number becomes an int property (a blessing's 1.0 is 1), as the TFX Kubeflow v2 container
  and KFP's ExecutorOutput hand them over."""
  result = metadata_store_pb2.Artifact(uri=uri)
  for key, value in metadata.items():
    if isinstance(value, bool) or (isinstance(value, (int, float)) and float(value).is_integer()):
      result.custom_properties[key].int_value = int(value)
    elif isinstance(value, (int, float)):
      result.custom_properties[key].double_value = float(value)
    elif isinstance(value, str):
      result.custom_properties[key].string_value = value
  return result
