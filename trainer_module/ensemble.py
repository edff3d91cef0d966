"""Ensembles: N members trained in turn, served as one Keras model averaging their probabilities.

`--ensemble N` trains N copies of `--model` (seeds --seed, --seed + 1, ...), `--ensemble-models
cnn,efficientnet` one member per architecture (any name `model.build_model` knows). run_fn
trains each member as it would a single model (the same datasets, callbacks and class weights);
`combine` then wraps them into one model whose output is the mean of their softmax outputs, and
that model goes through export.py like any other: the same signatures, warmup, serving
check and TFLite export. The members stay in it as nested models named member_1, member_2, ...
(`member_models`), so reporting can score each on the gated split. Keras is imported by the
functions that build or read models only: the pipeline's config checks flags with this module.
"""

import dataclasses
from typing import List, Optional, Sequence

from schemas.features import ENSEMBLE_MEMBER_PREFIX, IMAGE_XF

MEMBER_PREFIX = ENSEMBLE_MEMBER_PREFIX
AVERAGE = "probabilities"  # the layer averaging the members' outputs
NAME = "ensemble"


@dataclasses.dataclass(frozen=True)
class Member:
  model: str  # a model.build_model name
  seed: int

  def record(self) -> dict:
    return dataclasses.asdict(self)


def members(config) -> List[Member]:
  """The members a TrainingConfig asks for: --ensemble-models' architectures, else --ensemble
  copies of --model; seeds --seed + i. One member is a single model."""
  names = list(config.ensemble_models) or [config.model] * config.ensemble
  return [Member(name, config.seed + i) for i, name in enumerate(names)]


def usage_error(ensemble: int, ensemble_models: Sequence[str], tune: bool) -> Optional[str]:
  """Why --ensemble / --ensemble-models (with --tune) make no sense together, or None."""
  if ensemble_models and len(ensemble_models) < 2:
    return "--ensemble-models needs at least two models, e.g. cnn,cnn or cnn,efficientnet"
  if ensemble_models and ensemble != 1 and ensemble != len(ensemble_models):
    return (
      f"--ensemble {ensemble} and --ensemble-models {','.join(ensemble_models)} "
      f"({len(ensemble_models)} models) disagree; give one of them"
    )
  if tune and (ensemble > 1 or ensemble_models):
    return (
      "--tune searches one model's hyperparameters; it cannot be combined with --ensemble or "
      "--ensemble-models (tune a single model, then pass its values to the ensemble)"
    )
  return None


def combine(models: Sequence):
  """One model on the members' shared image input whose output is the mean of their
  probabilities (a keras.Model); each member is renamed member_<i> (from 1)."""
  import keras  # noqa: PLC0415  (TensorFlow/TFX: loaded when used, not on import)

  image = keras.Input(shape=tuple(models[0].inputs[0].shape[1:]), name=IMAGE_XF)
  outputs = []
  for i, model in enumerate(models):
    model.name = f"{MEMBER_PREFIX}{i + 1}"
    outputs.append(model({IMAGE_XF: image}))
  average = keras.layers.Average(dtype="float32", name=AVERAGE)(outputs)
  return keras.Model({IMAGE_XF: image}, average, name=NAME)


def member_models(model) -> List:
  """The members (keras.Models) of an ensemble built by `combine`, in order; [] for a single
  model."""
  import keras  # noqa: PLC0415  (TensorFlow/TFX: loaded when used, not on import)

  if model.name != NAME:
    return []
  return [
    layer
    for layer in model.layers
    if isinstance(layer, keras.Model) and layer.name.startswith(MEMBER_PREFIX)
  ]


def with_member_outputs(model):
  """A model of the same layers giving [the ensemble's probabilities, each member's] in one
  pass (the members' outputs are the averaging layer's inputs); None for a single model."""
  import keras  # noqa: PLC0415  (TensorFlow/TFX: loaded when used, not on import)

  if model.name != NAME:
    return None
  return keras.Model(model.inputs, [model.output, *model.get_layer(AVERAGE).input])
