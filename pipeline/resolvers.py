"""The pipeline's model resolvers: the Evaluator's baseline is the model being served, the
Trainer's warm start the latest blessed model trained on other data.

Served model (the Evaluator's baseline): ServingPusher's newest push that pushed (PushedModel
`pushed` 1), leaving out a push of the candidate itself, which a run again on unchanged data has
(its Trainer cached): the baseline is then the one the candidate was compared with when it was
new, so TFX's cache reuses that run's Evaluator instead of comparing the model with itself. A
blessed model that was never pushed (the run stopped first, or the serving check refused it) is
never the baseline.

Warm start: the latest blessed model trained on other data than this run's transformed
examples: a run again on unchanged data then resolves the same starting point as the run before
it, so TFX's cache reuses its Trainer (instead of training the last model once more).

Compiled for Kubeflow V2, whose compiler takes latest-artifact and latest-blessed-model
resolvers only: the served model is the latest PushedModel, narrowed to ServingPusher's pushes
that pushed by a filter in the spec (pipeline/kfp_spec.py), and the Evaluator's executor refuses
to compare the candidate with itself; the Trainer starts from the latest blessed model.
"""

from typing import Dict, Iterable, List, Set

import ml_metadata as mlmd
from tfx import v1 as tfx
from tfx.dsl.input_resolution.strategies import latest_blessed_model_strategy

from schemas import nodes, properties

_OUTPUT = mlmd.proto.Event.OUTPUT
_INPUTS = (mlmd.proto.Event.INPUT, mlmd.proto.Event.DECLARED_INPUT)
SERVED_MODEL = "served_model"  # the resolver's output key


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


def warm_start_resolver(transform) -> tfx.dsl.Resolver:
  """The warm-start resolver node, after `transform` (whose output it compares against)."""
  return tfx.dsl.Resolver(
    strategy_class=LatestBlessedModelOnOtherData,
    model=tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model),
    model_blessing=tfx.dsl.Channel(type=tfx.types.standard_artifacts.ModelBlessing),
    examples=transform.outputs["transformed_examples"],
  ).with_id(nodes.WARM_START_RESOLVER)


def latest_blessed_resolver() -> tfx.dsl.Resolver:
  """TFX's latest blessed model: the Trainer's warm start in a compiled Kubeflow V2 spec."""
  return tfx.dsl.Resolver(
    strategy_class=tfx.dsl.experimental.LatestBlessedModelStrategy,
    model=tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model),
    model_blessing=tfx.dsl.Channel(type=tfx.types.standard_artifacts.ModelBlessing),
  ).with_id(nodes.WARM_START_RESOLVER)


def served(pushes: List, candidate_uris: Set[str]) -> List:
  """The newest push that pushed a model other than the candidate (by its Model's URI), as a
  list of at most one."""
  pushed = [
    p
    for p in pushes
    if p.get_int_custom_property(properties.PUSHED) == 1
    and p.get_string_custom_property(properties.MODEL_URI) not in candidate_uris
  ]
  return [max(pushed, key=lambda p: p.id)] if pushed else []


class LatestServedModel(tfx.dsl.experimental.ResolverStrategy):
  """ServingPusher's newest push that pushed, other than a push of `candidate`."""

  def resolve_artifacts(self, store, input_dict: Dict[str, List]):
    del store
    candidate = input_dict.pop("candidate")
    return {
      SERVED_MODEL: served(input_dict[SERVED_MODEL], {a.uri for a in candidate}),
      "candidate": candidate,
    }


def served_model_resolver(trainer, pusher_id: str, kubeflow_v2: bool = False) -> tfx.dsl.Resolver:
  """The Evaluator's baseline: the model being served. Locally after the Trainer (its model is
  the candidate to leave out); compiled for Kubeflow V2, the latest PushedModel (narrowed by
  kfp_spec.served_model_filter)."""
  if kubeflow_v2:
    return tfx.dsl.Resolver(
      strategy_class=tfx.dsl.experimental.LatestArtifactStrategy,
      **{SERVED_MODEL: tfx.dsl.Channel(type=tfx.types.standard_artifacts.PushedModel)},
    ).with_id(nodes.SERVED_MODEL_RESOLVER)
  return tfx.dsl.Resolver(
    strategy_class=LatestServedModel,
    candidate=trainer.outputs["model"],
    **{
      SERVED_MODEL: tfx.dsl.Channel(
        type=tfx.types.standard_artifacts.PushedModel,
        producer_component_id=pusher_id,
        output_key="pushed_model",
      )
    },
  ).with_id(nodes.SERVED_MODEL_RESOLVER)
