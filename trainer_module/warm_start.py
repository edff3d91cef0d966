"""Warm start: the Trainer starts from the last blessed model's weights when they fit.

TFX hands the Trainer the last blessed model trained on other data than this run's
(pipeline/base_model.py feeds its `base_model` channel) as `fn_args.base_model`, the model's
serving directory. Its weights are copied into the newly built model when the two have the
same classes in the same id order, the same input (size, channels, resize mode) and the same
architecture (layer by layer, the same weight shapes); otherwise training starts from scratch
and the reason is recorded. The normalization constants (not weights in Keras) are the served
model's too, so training starts from exactly that model: its weights learned on those
constants. A warm-started model trains at a tenth of the learning rate, as fine-tuning does:
at the full rate a restarted optimizer's first steps undo much of what the model knew.
"""

import dataclasses
from typing import List, Optional

import keras

from schemas.settings import WARM_START_MODES
from trainer_module import contract, labels

RATE_FACTOR = 0.1  # of --learning-rate, when warm-started


@dataclasses.dataclass
class Decision:
  base_model: Optional[str]  # the serving dir whose weights were loaded, or None
  reason: str  # why not, when base_model is None
  epochs: int  # epochs to train
  rate_factor: float = 1.0  # of the learning rate

  def record(self) -> dict:
    """What training_settings.json keeps of the decision."""
    return {
      "from": self.base_model,
      "reason": self.reason or None,
      "epochs": self.epochs,
      "learning_rate_factor": self.rate_factor,
    }


def warm_epochs(epochs: int, warm_start_epochs: int) -> int:
  """--warm-start-epochs, or a third of --epochs (at least 1)."""
  return warm_start_epochs or max(1, epochs // 3)


def _layers(model: keras.Model) -> List[tuple]:
  return [(type(layer).__name__, [tuple(w.shape) for w in layer.weights]) for layer in model.layers]


def incompatibility(
  model: keras.Model,
  class_names: List[str],
  resize: str,
  base: Optional[keras.Model],
  base_class_names: Optional[List[str]],
  base_contract: Optional[dict],
) -> str:
  """Why the base model's weights cannot start `model`, or '' when they can."""
  if base is None:
    return "the last blessed model has no Keras model beside it"
  mismatch = labels.classes_mismatch(class_names, base_class_names)
  if mismatch:
    return f"its classes differ ({mismatch})"
  shape, base_shape = tuple(model.input_shape[1:]), tuple(base.input_shape[1:])
  if shape != base_shape:
    return f"its input is {'x'.join(map(str, base_shape))}, not {'x'.join(map(str, shape))}"
  base_resize = (base_contract or {}).get("resize")
  if base_resize != resize:
    return f"its images were resized by {base_resize}, not {resize}"
  ours, theirs = _layers(model), _layers(base)
  if ours != theirs:
    differ = next(
      (i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b), min(len(ours), len(theirs))
    )
    return (
      f"its architecture differs ({base.name}, {len(theirs)} layers, vs {model.name}, "
      f"{len(ours)} layers; first difference at layer {differ})"
    )
  return ""


def decide(
  model: keras.Model,
  class_names: List[str],
  resize: str,
  mode: str,
  base_model_dir: Optional[str],
  epochs: int,
  warm_start_epochs: int,
) -> Decision:
  """Loads the base model's weights into `model` when `mode` is auto and they fit; returns
  what was done and how many epochs to train."""
  if mode not in WARM_START_MODES:
    raise ValueError(f"warm start must be one of {', '.join(WARM_START_MODES)}, got {mode!r}")
  if mode == "never":
    return Decision(None, "--warm-start never", epochs)
  if not base_model_dir:
    return Decision(None, "no blessed model to start from", epochs)
  base = contract.load_keras_model(base_model_dir)
  reason = incompatibility(
    model,
    class_names,
    resize,
    base,
    labels.read_class_names(base_model_dir),
    contract.read_contract(base_model_dir),
  )
  if reason:
    return Decision(None, "the last blessed model does not fit: " + reason, epochs)
  for layer, base_layer in zip(model.layers, base.layers):
    layer.set_weights(base_layer.get_weights())
    if isinstance(layer, keras.layers.Normalization):  # constants, not weights
      layer.input_mean, layer.input_variance = base_layer.input_mean, base_layer.input_variance
      layer.mean, layer.variance = base_layer.mean, base_layer.variance
  return Decision(base_model_dir, "", warm_epochs(epochs, warm_start_epochs), RATE_FACTOR)
