"""The Trainer's and the Tuner's settings: one typed home, which the pipeline's config extends.

The pipeline sends `TrainingConfig.custom_config()` to the Trainer and the Tuner; `run_fn` and
`tuner_fn` read it back with `from_custom_config`, which refuses a key it does not know.
"""

import dataclasses
from typing import Any, Dict, List, Mapping, Optional

# Keys TFX's Vertex AI Trainer adds to custom_config for itself (ai_platform_training_args, ...).
_TFX_KEY_PREFIX = "ai_platform_"


@dataclasses.dataclass
class TrainingConfig:
  """What shapes training."""

  model: str = "cnn"
  model_variant: str = "b0"  # EfficientNet B0-B3.
  weights: Optional[str] = None  # EfficientNet weights: "imagenet" or a local .h5 file.
  epochs: int = 10
  batch_size: int = 32  # Per replica.
  learning_rate: float = 1e-3
  lr_schedule: str = "cosine"  # Cosine decay towards 0 over the epochs, or cut on plateaus.
  dropout: float = 0.3
  width: int = 32  # The CNN's first-block filters.
  fine_tune_epochs: int = 5  # Second phase with --weights: top backbone layers unfrozen.
  fine_tune_layers: int = 20
  augment: List[str] = dataclasses.field(default_factory=list)
  class_weights: str = "auto"
  cache: str = "auto"  # memory when the splits fit a share of physical memory, else disk
  tune_trials: int = 4
  tune_epochs: int = 3
  seed: int = 0

  def custom_config(self) -> Dict[str, Any]:
    """The training settings of this config (a PipelineConfig's too), for the Trainer."""
    return {f.name: getattr(self, f.name) for f in dataclasses.fields(TrainingConfig)}

  @classmethod
  def from_custom_config(cls, values: Mapping[str, Any]) -> "TrainingConfig":
    """The settings a Trainer or Tuner received; an unknown key is an error."""
    fields = {f.name: f for f in dataclasses.fields(TrainingConfig)}
    mine = {k: v for k, v in values.items() if not k.startswith(_TFX_KEY_PREFIX)}
    unknown = sorted(set(mine) - set(fields))
    if unknown:
      raise ValueError(f"unknown training setting(s): {', '.join(unknown)}")
    # JSON may turn 3.0 into 3 and back: numbers are cast to the field's type.
    cast = {k: fields[k].type(v) if fields[k].type in (int, float) else v for k, v in mine.items()}
    return TrainingConfig(**cast)
