"""The Trainer's warm-start model: the latest blessed model trained on other data than this run's.

The Evaluator's baseline is the latest blessed model, whatever it was trained on. The Trainer's
starting point excludes the models trained on exactly this run's transformed examples: a run
again on unchanged data then resolves the same starting point as the run before it, so TFX's
cache reuses its Trainer (instead of training the last model once more on the same images).

Compiled for Kubeflow V2, whose compiler takes latest-artifact and latest-blessed-model
resolvers only, the Trainer starts from the latest blessed model (pipeline.create_pipeline).
"""

from typing import Dict, Iterable, List, Set

import ml_metadata as mlmd
from tfx import v1 as tfx
from tfx.dsl.input_resolution.strategies import latest_blessed_model_strategy

RESOLVER_ID = "warm_start_model_resolver"
_OUTPUT = mlmd.proto.Event.OUTPUT
_INPUTS = (mlmd.proto.Event.INPUT, mlmd.proto.Event.DECLARED_INPUT)


def training_examples(store, model_ids: Iterable[int]) -> Dict[int, Set[int]]:
  """{model id: ids of the `examples` its Trainer execution read} (MLMD lineage)."""
  producers = {
    e.artifact_id: e.execution_id
    for e in store.get_events_by_artifact_ids(list(model_ids))
    if e.type == _OUTPUT
  }
  read: Dict[int, Set[int]] = {}
  for e in store.get_events_by_execution_ids(sorted(set(producers.values()))):
    if e.type in _INPUTS and e.path.steps and e.path.steps[0].key == "examples":
      read.setdefault(e.execution_id, set()).add(e.artifact_id)
  return {model: read.get(execution, set()) for model, execution in producers.items()}


class LatestBlessedModelOnOtherData(latest_blessed_model_strategy.LatestBlessedModelStrategy):
  """LatestBlessedModelStrategy over the models not trained on exactly `examples`."""

  def resolve_artifacts(self, store, input_dict: Dict[str, List]):
    examples = input_dict.pop("examples")
    current = {a.id for a in examples}
    models = input_dict["model"]
    trained_on = training_examples(store, [m.id for m in models]) if models else {}
    input_dict["model"] = [m for m in models if trained_on.get(m.id) != current]
    resolved = super().resolve_artifacts(store, input_dict)
    return {**resolved, "examples": examples}


def resolver(transform) -> tfx.dsl.Resolver:
  """The warm-start resolver node, after `transform` (whose output it compares against)."""
  return tfx.dsl.Resolver(
    strategy_class=LatestBlessedModelOnOtherData,
    model=tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model),
    model_blessing=tfx.dsl.Channel(type=tfx.types.standard_artifacts.ModelBlessing),
    examples=transform.outputs["transformed_examples"],
  ).with_id(RESOLVER_ID)
