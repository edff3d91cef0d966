"""The pipeline's one configuration object: defaults, overridden by environment, then by flags."""

import argparse
import dataclasses
import math
import os
import shlex
from typing import Dict, List, Optional

from components.warmup import MAX_WARMUP_RECORDS
from trainer_module.config import TrainingConfig

ENV_PREFIX = "IMAGE_PIPELINE_"
MODELS = ("cnn", "efficientnet")
VARIANTS = ("b0", "b1", "b2", "b3")
AUGMENTATIONS = ("flip", "rotation", "zoom", "contrast", "brightness")
CLASS_WEIGHTS = ("auto", "balanced", "none")
CACHES = ("auto", "memory", "disk", "none")
RESIZE_MODES = ("squash", "crop", "pad")
LR_SCHEDULES = ("cosine", "plateau")


# Numeric settings: field -> (lowest, highest or None); NaN and infinities are refused too.
RANGES = {
  "image_size": (8, 1024),
  "channels": (1, 3),
  "epochs": (1, None),
  "batch_size": (1, None),
  "width": (1, None),
  "fine_tune_epochs": (0, None),
  "fine_tune_layers": (1, None),
  "tune_trials": (1, None),
  "tune_epochs": (1, None),
  "seed": (0, 2**31 - 1),
  "warmup_requests": (1, None),
  "max_batch_size": (1, None),
  "keep_versions": (1, None),
  "max_image_pixels": (1, None),
  "min_image_size": (1, None),
  "learning_rate": (1e-7, 10.0),
  "dropout": (0.0, 0.95),
  "accuracy_threshold": (0.0, 1.0),
  "min_class_recall": (0.0, 1.0),
  "min_class_precision": (0.0, 1.0),
  "change_threshold": (-1.0, 1.0),
}


class ConfigError(ValueError):
  """A bad flag or setting; the runner reports it in one line and exits 2."""


@dataclasses.dataclass
class PipelineConfig(TrainingConfig):
  """Everything that shapes a run: the training settings (TrainingConfig, which the Trainer and
  Tuner receive) and the rest. Paths may be local or gs://."""

  pipeline_name: str = "image-classification"
  data_dir: Optional[str] = None  # None: the built-in digits sample.
  output_dir: str = "tfx_output"
  image_size: int = 32
  resize: str = "squash"  # how images become image_size x image_size: squash, crop or pad
  channels: int = 3
  tune: bool = False
  accuracy_threshold: float = 0.8
  min_class_recall: float = 0.5
  min_class_precision: float = 0.5
  change_threshold: float = -0.05  # Allowed accuracy drop against the last blessed model.
  splits: Dict[str, int] = dataclasses.field(default_factory=lambda: {"train": 8, "eval": 2})
  max_image_pixels: int = 64_000_000
  min_image_size: int = 8
  classes: List[str] = dataclasses.field(default_factory=list)  # empty: whatever is found
  keep_duplicates: bool = False  # Write byte-identical images of a class every time they occur.
  # Empty: Beam's DirectRunner defaults (in_memory, one worker). Any flag here makes TFX build a
  # tfx_ephemeral sdist for Beam workers in every Beam stage (about 1 s each).
  beam_pipeline_args: List[str] = dataclasses.field(default_factory=list)
  enable_cache: bool = True
  warmup_requests: int = 8  # Real eval images sent by the serving check and kept as warmup.
  max_batch_size: int = 64  # TF Serving's batching limit; warmup batches are no larger.
  keep_versions: int = 5  # pushed versions kept in serving_model/ (the newest always)

  @property
  def pipeline_root(self) -> str:
    return os.path.join(self.output_dir, "pipeline")

  @property
  def metadata_path(self) -> str:
    return os.path.join(self.output_dir, "metadata.db")

  @property
  def serving_model_dir(self) -> str:
    return os.path.join(self.output_dir, "serving_model")

  @property
  def summary_path(self) -> str:
    return os.path.join(self.output_dir, "run_summary.json")

  @property
  def sample_data_dir(self) -> str:
    return os.path.join(self.output_dir, "sample_data", "digits")

  def validate(self) -> "PipelineConfig":
    if self.model not in MODELS:
      raise ConfigError(f"--model must be one of {', '.join(MODELS)}, got {self.model!r}")
    for name, (lowest, highest) in RANGES.items():
      value = getattr(self, name)
      flag = "--" + name.replace("_", "-")
      if not math.isfinite(value):
        raise ConfigError(f"{flag} must be a finite number, got {value}")
      if highest is None and value < lowest:
        raise ConfigError(f"{flag} must be at least {lowest:g}, got {value:g}")
      if highest is not None and not lowest <= value <= highest:
        raise ConfigError(f"{flag} must be between {lowest:g} and {highest:g}, got {value:g}")
    if self.model == "efficientnet" and self.image_size < 32:
      raise ConfigError("--model efficientnet needs --image-size 32 or more")
    if self.channels not in (1, 3):
      raise ConfigError(f"--channels must be 1 or 3, got {self.channels}")
    if (
      not {"train", "eval"} <= set(self.splits) <= {"train", "eval", "test"}
      or min(self.splits.values()) < 1
    ):
      raise ConfigError(
        "--splits needs positive weights for train, eval and optionally test, "
        "e.g. train=8,eval=1,test=1"
      )
    records = self.warmup_requests + math.ceil(self.warmup_requests / self.max_batch_size)
    if records > MAX_WARMUP_RECORDS:
      raise ConfigError(
        f"--warmup-requests {self.warmup_requests} makes {records} warmup "
        f"records (one per image, then batches of at most --max-batch-size "
        f"{self.max_batch_size}); TF Serving replays at most {MAX_WARMUP_RECORDS}"
      )
    for name, allowed in (
      ("model_variant", VARIANTS),
      ("class_weights", CLASS_WEIGHTS),
      ("cache", CACHES),
      ("lr_schedule", LR_SCHEDULES),
      ("resize", RESIZE_MODES),
    ):
      if getattr(self, name) not in allowed:
        raise ConfigError(
          f"--{name.replace('_', '-')} must be one of {', '.join(allowed)}, "
          f"got {getattr(self, name)!r}"
        )
    unknown = sorted(set(self.augment) - set(AUGMENTATIONS))
    if unknown:
      raise ConfigError(
        f"--augment: unknown {', '.join(unknown)}; choose from {', '.join(AUGMENTATIONS)} or none"
      )
    if self.weights and self.model != "efficientnet":
      raise ConfigError("--weights applies to --model efficientnet only")
    if (
      self.weights
      and self.weights != "imagenet"
      and "://" not in self.weights
      and not os.path.isfile(self.weights)
    ):
      raise ConfigError(f"--weights file not found: {self.weights}")
    return self


def _parse_splits(text: str) -> Dict[str, int]:
  try:
    pairs = [
      (name.strip(), int(weight)) for name, weight in (item.split("=") for item in text.split(","))
    ]
  except ValueError:
    raise argparse.ArgumentTypeError(
      f"expected name=weight,... (e.g. train=8,eval=2), got {text!r}"
    )
  names = [name for name, _ in pairs]
  repeated = sorted({name for name in names if names.count(name) > 1})
  if repeated:
    raise argparse.ArgumentTypeError(
      f"split {', '.join(repeated)} given more than once in {text!r}"
    )
  return dict(pairs)


def _parse_list(text: str) -> List[str]:
  """Comma-separated names; "none" is the empty list."""
  return [item.strip() for item in text.split(",") if item.strip() and item.strip() != "none"]


def _env_default(field: dataclasses.Field, default):
  """IMAGE_PIPELINE_<FIELD> in the environment replaces a field's default."""
  name = ENV_PREFIX + field.name.upper()
  raw = os.environ.get(name)
  if raw is None:
    return default
  try:
    return _parse_env(field, default, raw)
  except (ValueError, argparse.ArgumentTypeError) as e:
    raise ConfigError(f"environment variable {name}={raw!r}: {e}") from e


def _parse_env(field: dataclasses.Field, default, raw: str):
  if field.name == "splits":
    return _parse_splits(raw)
  if field.name in ("classes", "augment"):
    return _parse_list(raw)
  if field.name == "beam_pipeline_args":
    return shlex.split(raw)
  if isinstance(default, bool):
    return raw.lower() in ("1", "true", "yes")
  return type(default)(raw) if default is not None else raw


class _Parser(argparse.ArgumentParser):
  """Usage errors become ConfigErrors; flags must be spelt out (no unique-prefix guessing:
  `--epoch 3` or `--lr 0.01` is an error, not a silent match)."""

  def __init__(self, **kwargs):
    super().__init__(allow_abbrev=False, **kwargs)

  def error(self, message):
    raise ConfigError(message)


def build_parser() -> argparse.ArgumentParser:
  defaults = {
    f.name: _env_default(f, getattr(PipelineConfig(), f.name))
    for f in dataclasses.fields(PipelineConfig)
  }
  p = _Parser(
    description="Image-classification TFX pipeline: ingest a folder of labeled images, "
    "validate, transform, train, evaluate per class and push a TF Serving model. "
    f"Every flag's default can also be set as {ENV_PREFIX}<NAME> in the environment."
  )
  p.add_argument(
    "--data-dir",
    default=defaults["data_dir"],
    help="Class-folder tree (a sub-folder of JPEG/PNG/GIF/BMP/WebP files per class, any "
    "depth; or train/ eval/ [test/] folders of such trees), or a .csv manifest with "
    "columns path,label; local or gs://. A {SPAN} in the path picks the newest span. "
    "Default: scikit-learn's digits exported under the output dir.",
  )
  p.add_argument(
    "--output-dir",
    default=defaults["output_dir"],
    help="Where the pipeline root, metadata.db, serving_model/ and run_summary.json go "
    "(default: %(default)s).",
  )
  p.add_argument(
    "--pipeline-name", default=defaults["pipeline_name"], help="(default: %(default)s)"
  )
  p.add_argument(
    "--model", choices=MODELS, default=defaults["model"], help="(default: %(default)s)"
  )
  p.add_argument(
    "--model-variant",
    choices=VARIANTS,
    default=defaults["model_variant"],
    help="EfficientNet size (default: %(default)s).",
  )
  p.add_argument(
    "--weights",
    default=defaults["weights"],
    help="ImageNet weights for --model efficientnet: 'imagenet' (Keras' notop file, "
    "downloaded once into ~/.keras/models) or a local 'notop' .h5 file: the head "
    "trains on a frozen backbone, then the top layers are fine-tuned at a tenth of "
    "the learning rate. Default: none, trained from scratch.",
  )
  p.add_argument(
    "--fine-tune-epochs",
    type=int,
    default=defaults["fine_tune_epochs"],
    help="Epochs of the fine-tuning phase with --weights (default: %(default)s).",
  )
  p.add_argument(
    "--fine-tune-layers",
    type=int,
    default=defaults["fine_tune_layers"],
    help="Top backbone layers unfrozen for fine-tuning (default: %(default)s).",
  )
  p.add_argument(
    "--image-size",
    type=int,
    default=defaults["image_size"],
    help="Images are resized to N x N (default: %(default)s).",
  )
  p.add_argument(
    "--resize",
    choices=RESIZE_MODES,
    default=defaults["resize"],
    help="How images of another shape become N x N: squash (stretch), crop (the "
    "centred square, keeping the aspect ratio) or pad (fit, then pad with black); "
    "the same in Transform and in the served model (default: %(default)s).",
  )
  p.add_argument(
    "--channels",
    type=int,
    choices=(1, 3),
    default=defaults["channels"],
    help="Channels images are converted to (default: %(default)s).",
  )
  p.add_argument("--epochs", type=int, default=defaults["epochs"], help="(default: %(default)s)")
  p.add_argument(
    "--batch-size",
    type=int,
    default=defaults["batch_size"],
    help="Per replica; multiplied by the number of GPUs/TPU cores (default: %(default)s).",
  )
  p.add_argument(
    "--learning-rate",
    type=float,
    default=defaults["learning_rate"],
    help="Initial rate (default: %(default)s).",
  )
  p.add_argument(
    "--lr-schedule",
    choices=LR_SCHEDULES,
    default=defaults["lr_schedule"],
    help="cosine: decay towards 0 over --epochs; plateau: cut 0.3x when validation "
    "loss stalls for 2 epochs. Fine-tuning always uses plateau "
    "(default: %(default)s).",
  )
  p.add_argument(
    "--dropout",
    type=float,
    default=defaults["dropout"],
    help="Dropout before the classifier (default: %(default)s).",
  )
  p.add_argument(
    "--width",
    type=int,
    default=defaults["width"],
    help="Filters of the CNN's first block; 2x and 4x follow (default: %(default)s).",
  )
  p.add_argument(
    "--augment",
    type=_parse_list,
    default=defaults["augment"],
    help=f"Training-only augmentations, comma-separated: {', '.join(AUGMENTATIONS)} "
    "(default: none).",
  )
  p.add_argument(
    "--class-weights",
    choices=CLASS_WEIGHTS,
    default=defaults["class_weights"],
    help="Weight classes by inverse frequency: auto does so when the largest class "
    "is 1.5x the smallest (default: %(default)s).",
  )
  p.add_argument(
    "--cache",
    choices=CACHES,
    default=defaults["cache"],
    help="Where the Trainer caches parsed examples after the first epoch: auto "
    "keeps them in memory when both splits fit a quarter of physical memory, else "
    "on disk under the run's artifact (default: %(default)s).",
  )
  p.add_argument(
    "--tune",
    action="store_true",
    default=defaults["tune"],
    help="Add a Tuner stage (Keras Tuner random search over learning rate, dropout "
    "and width) whose best values the Trainer uses.",
  )
  p.add_argument(
    "--tune-trials", type=int, default=defaults["tune_trials"], help="(default: %(default)s)"
  )
  p.add_argument(
    "--tune-epochs",
    type=int,
    default=defaults["tune_epochs"],
    help="Epochs per trial (default: %(default)s).",
  )
  p.add_argument(
    "--seed",
    type=int,
    default=defaults["seed"],
    help="Seed of the weights' initialisation, the shuffling and the augmentation "
    "(default: %(default)s).",
  )
  p.add_argument(
    "--accuracy-threshold",
    type=float,
    default=defaults["accuracy_threshold"],
    help="Overall eval accuracy needed to bless the model (default: %(default)s).",
  )
  p.add_argument(
    "--min-class-recall",
    type=float,
    default=defaults["min_class_recall"],
    help="Recall every class must reach to bless the model (default: %(default)s).",
  )
  p.add_argument(
    "--min-class-precision",
    type=float,
    default=defaults["min_class_precision"],
    help="Precision every class must reach to bless the model (default: %(default)s).",
  )
  p.add_argument(
    "--change-threshold",
    type=float,
    default=defaults["change_threshold"],
    help="Allowed accuracy change against the last blessed model; negative allows "
    "a small drop (default: %(default)s).",
  )
  p.add_argument(
    "--splits",
    type=_parse_splits,
    default=defaults["splits"],
    help="Hash-bucket weights of the splits by file path; test is optional and, when "
    "present, is what the Evaluator gates on (default: train=8,eval=2).",
  )
  p.add_argument(
    "--max-image-pixels",
    type=int,
    default=defaults["max_image_pixels"],
    help="Larger images are rejected at ingestion (default: %(default)s).",
  )
  p.add_argument(
    "--min-image-size",
    type=int,
    default=defaults["min_image_size"],
    help="Images with a shorter side are rejected (default: %(default)s).",
  )
  p.add_argument(
    "--classes",
    type=_parse_list,
    default=defaults["classes"],
    help="Comma-separated class names; files of other classes are rejected "
    "(default: every class found).",
  )
  p.add_argument(
    "--keep-duplicates",
    action="store_true",
    default=defaults["keep_duplicates"],
    help="Write byte-identical images of a class every time they occur (default: "
    "only the first in path order; identical bytes under two classes are always "
    "rejected).",
  )
  p.add_argument(
    "--warmup-requests",
    type=int,
    default=defaults["warmup_requests"],
    help="Real eval images the serving check sends to the model before the push; "
    "they are also written as TF Serving warmup requests (default: %(default)s).",
  )
  p.add_argument(
    "--max-batch-size",
    type=int,
    default=defaults["max_batch_size"],
    help="TF Serving's max_batch_size, written to batching_parameters.txt; no "
    "warmup request is larger (default: %(default)s).",
  )
  p.add_argument(
    "--keep-versions",
    type=int,
    default=defaults["keep_versions"],
    help="Pushed versions kept in serving_model/; older ones (and their reports) "
    "are removed after a push, never the newest (default: %(default)s).",
  )
  p.add_argument(
    "--no-cache",
    dest="enable_cache",
    action="store_false",
    default=defaults["enable_cache"],
    help="Re-run every stage.",
  )
  p.add_argument(
    "--beam-pipeline-args",
    type=shlex.split,
    default=defaults["beam_pipeline_args"],
    help="Beam's flags as one quoted string, e.g. --beam-pipeline-args="
    "'--direct_running_mode=multi_processing --direct_num_workers=0' for every core "
    "(default: %(default)s).",
  )
  return p


def parse(argv: Optional[List[str]] = None, parser: Optional[argparse.ArgumentParser] = None):
  """(validated config, all parsed args); `parser` may add runner-specific flags."""
  args = (parser or build_parser()).parse_args(argv)
  config = PipelineConfig(
    **{f.name: getattr(args, f.name) for f in dataclasses.fields(PipelineConfig)}
  )
  return config.validate(), args


def from_args(argv: Optional[List[str]] = None) -> PipelineConfig:
  """Builds and validates the config from defaults, environment and flags."""
  return parse(argv)[0]
