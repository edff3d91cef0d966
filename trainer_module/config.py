"""The Trainer's and the Tuner's settings: one typed home, which the pipeline's config extends.

Each field carries what its flag needs (help, allowed values, bounds) as metadata: the runner's
argparse and the checks below are derived from it. The pipeline sends
`TrainingConfig.custom_config()` to the Trainer and the Tuner; `run_fn` and `tuner_fn` read it
back with `from_custom_config`, which refuses a key it does not know and a value out of bounds.
"""

import copy
import dataclasses
import math
from typing import (
  Any,
  Callable,
  Collection,
  Dict,
  Iterator,
  List,
  Mapping,
  Optional,
  Sequence,
  Tuple,
)

from schemas.settings import (
  AUGMENTATIONS,
  CACHE_MODES,
  CLASS_WEIGHT_MODES,
  IMAGENET_WEIGHTS,
  LR_SCHEDULES,
  MIXING_AUGMENTATIONS,
  MODEL_VARIANTS,
  MODELS,
  NO_WEIGHTS,
  PRECISION_MODES,
  RECIPES,
  WARM_START_MODES,
)

# Keys TFX's Vertex AI Trainer adds to custom_config for itself (ai_platform_training_args, ...).
_TFX_KEY_PREFIX = "ai_platform_"


def setting(
  default: Any,
  help: str,  # the argparse name
  *,
  choices: Optional[Sequence] = None,
  bounds: Optional[Tuple[float, Optional[float]]] = None,
  parse: Optional[Callable[[str], Any]] = None,
  flag: Optional[str] = None,
  group: str = "training",
) -> Any:
  """A config field and its flag: `help` ("%(default)s" is filled in; without "default" in it,
  " (default: ...)" is added), the allowed `choices` (of each item, for a list), numeric
  `bounds` (lowest, highest or None), `parse` for a flag's or environment variable's text when
  the field's type cannot, the `flag` when it is not --field-name, and the help `group`."""
  metadata = {
    "help": help,
    "choices": tuple(choices) if choices is not None else None,
    "bounds": bounds,
    "parse": parse,
    "flag": flag,
    "group": group,
  }
  if isinstance(default, (list, dict)):
    return dataclasses.field(default_factory=lambda: copy.deepcopy(default), metadata=metadata)
  return dataclasses.field(default=default, metadata=metadata)


def flag_name(field: dataclasses.Field) -> str:
  return field.metadata.get("flag") or "--" + field.name.replace("_", "-")


def value_error(field: dataclasses.Field, value: Any) -> Optional[str]:
  """What breaks the field's declared bounds or choices ("must be ..."), or None (also for
  None: the field is unset)."""
  if value is None:
    return None
  lowest, highest = field.metadata.get("bounds") or (None, None)
  choices = field.metadata.get("choices")
  if lowest is not None and not math.isfinite(value):
    return f"must be a finite number, got {value}"
  if lowest is not None and highest is None and value < lowest:
    return f"must be at least {lowest:g}, got {value:g}"
  if lowest is not None and highest is not None and not lowest <= value <= highest:
    return f"must be between {lowest:g} and {highest:g}, got {value:g}"
  if choices and isinstance(value, list):
    unknown = sorted(set(value) - set(choices))
    if unknown:
      return f"unknown {', '.join(unknown)}; choose from {', '.join(choices)} or none"
  elif choices and value not in choices:
    return f"must be one of {', '.join(map(str, choices))}, got {value!r}"
  return None


def field_errors(config: Any) -> List[str]:
  """What breaks a field's declared bounds or choices, one message per field, flags named."""
  errors = []
  for field in dataclasses.fields(config):
    error = value_error(field, getattr(config, field.name))
    if error:
      separator = ": " if error.startswith("unknown") else " "
      errors.append(flag_name(field) + separator + error)
  return errors


class Settings:
  """A dataclass of setting() fields that can tell what is wrong with it."""

  def errors(self) -> Iterator[str]:
    """What is wrong, first things first (a caller may stop at the first): each field's bounds
    and choices; subclasses add what involves several fields."""
    yield from field_errors(self)

  def with_presets(self, given: Collection[str] = ()) -> "Settings":
    """The settings with what a preset field names (e.g. --recipe) applied, except the fields
    `given`; none here."""
    del given
    return self


# --recipe NAME: the settings it sets, each unless given itself (a flag or IMAGE_PIPELINE_*).
# "strong": chosen on Fashion-MNIST subsets (BENCHMARKS.md, "Training recipe"): a wider CNN,
# horizontal flips, label smoothing and an exponential moving average of the weights, with the
# default cosine schedule. On 10,000 images and 8 epochs, width 48 with label smoothing and EMA
# gained 0.6 points over the default CNN; each augmentation added to it cost there (flip 0.5,
# flip and erasing 1.1, flip, erasing and a light RandAugment 3.4): flips are kept for longer
# runs on more data, erasing and RandAugment are left out.
PRESETS: Dict[str, Dict[str, Any]] = {
  "strong": {
    "width": 48,
    "augment": ["flip"],
    "label_smoothing": 0.1,
    "ema": True,
    "lr_schedule": "cosine",
  },
}


def _preset_text(name: str) -> str:
  return ", ".join(
    f"--{k.replace('_', '-')} "
    + (",".join(v) if isinstance(v, list) else "" if v is True else str(v))
    for k, v in PRESETS[name].items()
  ).replace(" ,", ",")


def parse_names(text: str) -> List[str]:
  """Comma-separated names; "none" is the empty list."""
  return [item.strip() for item in text.split(",") if item.strip() and item.strip() != "none"]


@dataclasses.dataclass(kw_only=True)
class TrainingConfig(Settings):
  """What shapes training."""

  model: str = setting("cnn", "Model to train.", choices=MODELS)
  model_variant: Optional[str] = setting(
    None,
    "The pretrained family's size: "
    + "; ".join(f"{m}: {', '.join(v)} (default {v[0]})" for m, v in MODEL_VARIANTS.items())
    + ".",
    choices=[v for variants in MODEL_VARIANTS.values() for v in variants],
  )
  weights: Optional[str] = setting(
    None,
    "Starting weights of --model efficientnet or mobilenet: 'imagenet' (Keras' notop file, "
    "fetched once into ~/.keras/models) or a local or gs:// 'notop' .h5 file: the head "
    "trains on a frozen backbone, then the top layers are fine-tuned at a tenth of the "
    "learning rate; 'none' trains from scratch (which needs far more images). Default: "
    "imagenet for those families; the CNN takes none.",
  )
  epochs: int = setting(10, "Training epochs.", bounds=(1, None))
  batch_size: int = setting(
    32, "Per replica; multiplied by the number of GPUs/TPU cores.", bounds=(1, None)
  )
  learning_rate: float = setting(1e-3, "Initial rate.", bounds=(1e-7, 10.0))
  lr_schedule: str = setting(
    "cosine",
    "cosine: decay towards 0 over --epochs; plateau: cut 0.3x when validation loss stalls "
    "for 2 epochs. Fine-tuning always uses plateau.",
    choices=LR_SCHEDULES,
  )
  dropout: float = setting(0.3, "Dropout before the classifier.", bounds=(0.0, 0.95))
  width: int = setting(32, "Filters of the CNN's first block; 2x and 4x follow.", bounds=(1, None))
  fine_tune_epochs: int = setting(
    5, "Epochs of the fine-tuning phase with --weights.", bounds=(0, None)
  )
  fine_tune_layers: int = setting(
    20, "Top backbone layers unfrozen for fine-tuning.", bounds=(1, None)
  )
  augment: List[str] = setting(
    [],
    f"Training-only augmentations, comma-separated: {', '.join(AUGMENTATIONS)} (default: none).",
    choices=AUGMENTATIONS,
    parse=parse_names,
  )
  label_smoothing: float = setting(
    0.0,
    "Label smoothing of the cross-entropy (e.g. 0.1): the labels become one-hot vectors with "
    "this share spread over the classes.",
    bounds=(0.0, 0.5),
  )
  ema: bool = setting(
    False,
    "Keep an exponential moving average of the weights (the optimizer's use_ema, momentum "
    "0.99): validation, early stopping and the exported model use the averaged weights.",
  )
  recipe: Optional[str] = setting(
    None,
    "A named combination of training settings, each applied unless given itself: "
    + "; ".join(f"{name}: {_preset_text(name)}" for name in RECIPES)
    + " (default: none).",
    choices=RECIPES,
  )
  class_weights: str = setting(
    "auto",
    "Weight classes by inverse frequency: auto does so when the largest class is 1.5x the "
    "smallest.",
    choices=CLASS_WEIGHT_MODES,
  )
  cache: str = setting(
    "auto",
    "Where the Trainer caches parsed examples after the first epoch: auto keeps them in "
    "memory when both splits fit a quarter of physical memory, else on disk under the run's "
    "artifact.",
    choices=CACHE_MODES,
  )
  tune_trials: int = setting(4, "Keras Tuner trials with --tune.", bounds=(1, None))
  tune_epochs: int = setting(3, "Epochs per trial.", bounds=(1, None))
  warm_start: str = setting(
    "auto",
    "auto: when the last blessed model has the same classes, input size and architecture, "
    "start from its weights and train --warm-start-epochs (otherwise from scratch, and the "
    "summary says why); never: always from scratch.",
    choices=WARM_START_MODES,
  )
  warm_start_epochs: int = setting(
    0,
    "Epochs of a warm-started training (default 0: a third of --epochs, at least 1).",
    bounds=(0, None),
  )
  mixed_precision: str = setting(
    "auto",
    "auto: float16 compute on GPUs, bfloat16 on TPUs, float32 on CPUs; off: float32 everywhere.",
    choices=PRECISION_MODES,
  )
  seed: int = setting(
    0,
    "Seed of the weights' initialisation, the shuffling and the augmentation.",
    bounds=(0, 2**31 - 1),
  )
  ensemble: int = setting(
    1,
    "Train N members of --model (seeds --seed, --seed + 1, ...) and serve one model that "
    "averages their probabilities (1: a single model).",
    bounds=(1, None),
  )
  ensemble_models: List[str] = setting(
    [],
    f"Train one ensemble member per name, comma-separated ({', '.join(MODELS)}; e.g. "
    "cnn,efficientnet), instead of --ensemble copies of --model (default: none).",
    choices=MODELS,
    parse=parse_names,
  )

  @property
  def variant(self) -> Optional[str]:
    """--model-variant, or the family's default; None for the CNN."""
    return self.variant_of(self.model)

  def variant_of(self, architecture: str) -> Optional[str]:
    """The variant `architecture` trains at: --model-variant for --model's, else (an ensemble's
    other member) its family's default; None for the CNN."""
    if architecture not in MODEL_VARIANTS:
      return None
    own = self.model_variant if architecture == self.model else None
    return own or MODEL_VARIANTS[architecture][0]

  @property
  def initial_weights(self) -> Optional[str]:
    """What --model starts from: --weights (a file, or 'imagenet' until resolved to Keras'
    file), 'imagenet' for a pretrained family by default, or None (from scratch: the CNN, or
    --weights none)."""
    if self.model not in MODEL_VARIANTS or self.weights == NO_WEIGHTS:
      return None
    return self.weights or IMAGENET_WEIGHTS

  @property
  def one_hot_labels(self) -> bool:
    """Whether the loss takes one-hot labels: label smoothing (only Keras' categorical
    cross-entropy has it), MixUp and CutMix (which blend labels)."""
    return self.label_smoothing > 0 or bool(set(self.augment) & set(MIXING_AUGMENTATIONS))

  @property
  def compile_options(self) -> Dict[str, Any]:
    """The loss and optimizer options of model.compile_model."""
    return {
      "label_smoothing": self.label_smoothing,
      "one_hot": self.one_hot_labels,
      "ema": self.ema,
    }

  def with_presets(self, given: Collection[str] = ()) -> "TrainingConfig":
    """The config with --recipe's settings, except those `given` (field names set by a flag or
    an environment variable, which win)."""
    if not self.recipe:
      return self
    preset = PRESETS[self.recipe]
    return dataclasses.replace(self, **{k: v for k, v in preset.items() if k not in given})

  def errors(self) -> Iterator[str]:
    yield from super().errors()
    yield from self.model_errors()

  def model_errors(self) -> List[str]:
    """What does not fit --model: a variant of another family, --weights for the CNN."""
    variants = MODEL_VARIANTS.get(self.model, ())
    if self.model_variant and self.model_variant not in variants:
      return [
        f"--model-variant {self.model_variant} does not apply to --model {self.model}"
        + (f"; choose from {', '.join(variants)}" if variants else "")
      ]
    if self.weights and self.weights != NO_WEIGHTS and not variants:
      return [
        f"--weights applies to --model {' or '.join(MODEL_VARIANTS)} only "
        f"(--model {self.model} takes --weights {NO_WEIGHTS} or nothing)"
      ]
    return []

  def custom_config(self) -> Dict[str, Any]:
    """The training settings of this config (a PipelineConfig's too), for the Trainer."""
    return {f.name: getattr(self, f.name) for f in dataclasses.fields(TrainingConfig)}

  @classmethod
  def from_custom_config(cls, values: Mapping[str, Any]) -> "TrainingConfig":
    """The settings a Trainer or Tuner received; an unknown key or a bad value is an error."""
    fields = {f.name: f for f in dataclasses.fields(TrainingConfig)}
    mine = {k: v for k, v in values.items() if not k.startswith(_TFX_KEY_PREFIX)}
    unknown = sorted(set(mine) - set(fields))
    if unknown:
      raise ValueError(f"unknown training setting(s): {', '.join(unknown)}")
    # JSON may turn 3.0 into 3 and back: numbers are cast to the field's type.
    cast = {k: fields[k].type(v) if fields[k].type in (int, float) else v for k, v in mine.items()}
    config = TrainingConfig(**cast)
    errors = list(config.errors())
    if errors:
      raise ValueError("bad training setting(s): " + "; ".join(errors))
    return config
