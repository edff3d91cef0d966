"""The warm-start model is the latest blessed model trained on other examples than this run's,
found by its Trainer's lineage in a real (in-memory) MLMD store."""

import ml_metadata as mlmd
from ml_metadata.proto import metadata_store_pb2
from tfx.types import standard_artifacts

from pipeline import resolvers


class _Store:
  """An in-memory MLMD store with Trainer executions: examples in, a model out."""

  def __init__(self):
    config = metadata_store_pb2.ConnectionConfig()
    config.fake_database.SetInParent()
    self.mlmd = mlmd.MetadataStore(config)
    self.artifact_type = self.mlmd.put_artifact_type(metadata_store_pb2.ArtifactType(name="A"))
    self.execution_type = self.mlmd.put_execution_type(
      metadata_store_pb2.ExecutionType(name="Trainer")
    )

  def artifact(self, kind):
    [artifact_id] = self.mlmd.put_artifacts(
      [metadata_store_pb2.Artifact(type_id=self.artifact_type)]
    )
    artifact = kind()
    artifact.id = artifact_id
    return artifact

  def train(self, examples, blessed=True):
    """A Trainer execution reading `examples` and writing a model; its blessing."""
    model = self.artifact(standard_artifacts.Model)
    [execution] = self.mlmd.put_executions(
      [metadata_store_pb2.Execution(type_id=self.execution_type)]
    )
    events = []
    for key, artifacts, kind in (
      ("examples", examples, metadata_store_pb2.Event.INPUT),
      ("model", [model], metadata_store_pb2.Event.OUTPUT),
    ):
      for index, a in enumerate(artifacts):
        event = metadata_store_pb2.Event(artifact_id=a.id, execution_id=execution, type=kind)
        event.path.steps.add().key = key
        event.path.steps.add().index = index
        events.append(event)
    self.mlmd.put_events(events)
    blessing = self.artifact(standard_artifacts.ModelBlessing)
    blessing.set_int_custom_property("current_model_id", model.id)
    blessing.set_int_custom_property("blessed", int(blessed))
    return model, blessing


def _resolve(store, models, blessings, examples):
  strategy = resolvers.LatestBlessedModelOnOtherData()
  resolved = strategy.resolve_artifacts(
    store.mlmd, {"model": list(models), "model_blessing": list(blessings), "examples": examples}
  )
  assert resolved["examples"] == examples
  return [m.id for m in resolved["model"]]


def test_a_model_trained_on_this_runs_examples_is_no_starting_point():
  store = _Store()
  day1, day2 = (
    store.artifact(standard_artifacts.Examples),
    store.artifact(standard_artifacts.Examples),
  )
  first, first_blessing = store.train([day1])
  assert resolvers.training_examples(store.mlmd, [first.id]) == {first.id: {day1.id}}
  # The next run on other data starts from the first model ...
  assert _resolve(store, [first], [first_blessing], [day2]) == [first.id]
  # ... a run again on the same data does not (as the first run, it has no starting point).
  assert _resolve(store, [first], [first_blessing], [day1]) == []
  second, second_blessing = store.train([day2, day1])  # a window of two spans
  models, blessings = [first, second], [first_blessing, second_blessing]
  # Again on the window: the first model, as the run that trained the second had.
  assert _resolve(store, models, blessings, [day2, day1]) == [first.id]
  assert _resolve(store, models, blessings, [day2]) == [second.id]  # a subset is other data
  third, third_blessing = store.train([store.artifact(standard_artifacts.Examples)], False)
  assert _resolve(store, models + [third], blessings + [third_blessing], [day1]) == [second.id]


def test_without_blessed_models_there_is_no_starting_point():
  store = _Store()
  examples = [store.artifact(standard_artifacts.Examples)]
  assert _resolve(store, [], [], examples) == []
