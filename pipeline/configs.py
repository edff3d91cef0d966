"""The pipeline's one configuration object: defaults, overridden by environment, then by flags.

Every flag of every command is derived from a field's metadata (trainer_module.config.setting):
its help, allowed values and bounds are declared once, beside the field; its environment
variable is IMAGE_PIPELINE_<FLAG>. The settings: PipelineConfig (the run), LocalOptions
(local_runner.py's own), pipeline/cloud.py's CloudConfig and CompileOptions (kubeflow_runner.py's).
They are all checked, paths included, before anything imports TensorFlow, TFX or Beam.
"""

import argparse
import dataclasses
import difflib
import math
import os
import shlex
import sys
import typing
from typing import Dict, Iterator, List, Optional, Sequence, Set, Tuple

from components.warmup import MAX_WARMUP_RECORDS
from pipeline import cloud, paths
from reporting.build import RunContext
from reporting.prediction_drift import PredictionDriftThresholds
from schemas import filenames
from schemas.settings import (
  DRIFT_ACTIONS,
  EXPORT_FORMATS,
  IMAGENET_WEIGHTS,
  MIN_PRETRAINED_SIZE,
  MODEL_VARIANTS,
  NO_WEIGHTS,
  RESIZE_MODES,
)
from trainer_module import ensemble as ensembles
from trainer_module.config import (
  Settings,
  TrainingConfig,
  flag_name,
  parse_names,
  setting,
  value_error,
)

ENV_PREFIX = "IMAGE_PIPELINE_"
BOOLEANS = {"1": True, "true": True, "yes": True, "on": True}
BOOLEANS.update({"0": False, "false": False, "no": False, "off": False})
# Help sections, in this order; a field names its own (TrainingConfig's are "training").
GROUPS = {
  "input": "input data",
  "schedule": "scheduled runs: span window and drift between spans",
  "training": "training",
  "labels": "likely label errors in the labelled images",
  "inference": "batch inference (--infer-dir): what to label next, drift in what the model predicts",
  "evaluation": "evaluation gates (the model is pushed only when all hold)",
  "serving": "serving",
  "run": "run",
  "cloud": "Google Cloud: Dataflow, Vertex AI training and endpoint",
  "compile": "the compiled spec",
}


class ConfigError(ValueError):
  """A bad flag or setting; the runner reports it in one line and exits 2."""


def parse_bool(text: str) -> bool:
  """1/0, true/false, yes/no, on/off in any case; anything else is an error."""
  try:
    return BOOLEANS[text.strip().lower()]
  except KeyError:
    raise argparse.ArgumentTypeError(f"expected one of {'/'.join(BOOLEANS)}, got {text!r}")


def _parse_classes(text: str) -> List[str]:
  names = [item.strip() for item in text.split(",") if item.strip()]
  if not names:
    raise argparse.ArgumentTypeError(f"names no class: {text!r}")
  return names


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


@dataclasses.dataclass(kw_only=True)
class PipelineConfig(TrainingConfig):
  """Everything that shapes a run: the training settings (TrainingConfig, which the Trainer and
  Tuner receive) and the rest. Paths may be local or gs://."""

  data_dir: Optional[str] = setting(
    None,
    "Class-folder tree (a sub-folder of JPEG/PNG/GIF/BMP/WebP files per class, any depth; or "
    "train/ eval/ [test/] folders of such trees), or a .csv manifest with columns path,label; "
    "local or gs://. A {SPAN} in the path picks the newest span. Default: scikit-learn's "
    "digits exported under the output dir.",
    group="input",
  )
  image_size: int = setting(32, "Images are resized to N x N.", bounds=(8, 1024), group="input")
  resize: str = setting(
    "squash",
    "How images of another shape become N x N: squash (stretch), crop (the centred square, "
    "keeping the aspect ratio) or pad (fit, then pad with black); the same in Transform and "
    "in the served model.",
    choices=RESIZE_MODES,
    group="input",
  )
  channels: int = setting(3, "Channels images are converted to.", choices=(1, 3), group="input")
  splits: Dict[str, int] = setting(
    {"train": 8, "eval": 2},
    "Hash-bucket weights of the splits by file path; test is optional and, when present, is "
    "what the Evaluator gates on (default: train=8,eval=2).",
    parse=_parse_splits,
    group="input",
  )
  classes: List[str] = setting(
    [],
    "Comma-separated class names; files of other classes are rejected (default: every class "
    "found).",
    parse=_parse_classes,
    group="input",
  )
  max_image_pixels: int = setting(
    64_000_000, "Larger images are rejected at ingestion.", bounds=(1, None), group="input"
  )
  min_image_size: int = setting(
    8, "Images with a shorter side are rejected.", bounds=(1, None), group="input"
  )
  keep_duplicates: bool = setting(
    False,
    "Write byte-identical images of a class every time they occur (default: only the first "
    "in path order; identical bytes under two classes are always rejected).",
    group="input",
  )
  infer_dir: Optional[str] = setting(
    None,
    "Images to classify with the blessed model (TFX's BulkInferrer, after the push decision): "
    "a folder (images at any depth, no class folders) or a .csv manifest with a path column, "
    "local or gs://, maybe with a {SPAN}. Predictions go to <output-dir>/inference/ "
    "(predictions.csv) and the BulkInferrer's PredictionLogs; bad files are rejected with "
    "the ingestion's reasons.",
    group="input",
  )
  span_window: int = setting(
    1,
    "With a {SPAN} data path: train on the newest N spans ingested so far (TFX's "
    "SpanRangeStrategy over the ImageExampleGen outputs in the metadata store); the "
    "Evaluator still gates on the newest span.",
    bounds=(1, None),
    group="schedule",
  )
  on_drift: str = setting(
    "warn",
    "When the new data's statistics drift from the previous run's (DistributionValidator): "
    "warn prints and records each drifted feature; block also stops the run before training "
    "(exit 3).",
    choices=DRIFT_ACTIONS,
    group="schedule",
  )
  label_drift_threshold: float = setting(
    0.1,
    "Largest L-infinity distance allowed between the label distributions of the new and the "
    "previous training split (0 checks nothing).",
    bounds=(0.0, 1.0),
    group="schedule",
  )
  image_drift_threshold: float = setting(
    0.1,
    "Largest Jensen-Shannon divergence allowed between the new and the previous training "
    "split's image width, height, channels and mean brightness (0 checks nothing).",
    bounds=(0.0, 1.0),
    group="schedule",
  )
  tune: bool = setting(
    False,
    "Add a Tuner stage (Keras Tuner random search over learning rate, dropout and width) "
    "whose best values the Trainer uses.",
  )
  find_label_issues: bool = setting(
    False,
    "Look for likely label errors in every split: out-of-sample probabilities of each image "
    "(the train split's from --label-issue-folds models, each trained with the Trainer's "
    "settings on the other folds, in a stage of its own, LabelIssues; the held-out splits' "
    "from the trained model) and cleanlab's confident learning; writes label_issues.csv and "
    "label_issues.png to the report.",
    group="labels",
  )
  label_issue_folds: int = setting(
    3,
    "Folds of the train split with --find-label-issues: a model is trained per fold, on the "
    "other folds, so LabelIssues takes about (folds - 1) times the Trainer's time.",
    bounds=(2, 20),
    group="labels",
  )
  label_budget: int = setting(
    0,
    "Rows kept in <output-dir>/inference/to_label.csv, the scored files least confident first "
    "(the margin between the two most probable classes): 0 keeps every one.",
    bounds=(0, None),
    group="inference",
  )
  prediction_drift_threshold: float = setting(
    0.1,
    "Largest L-infinity distance allowed between the predicted-class distributions of this and "
    "the previous --infer-dir run in the output dir (0 checks nothing).",
    bounds=(0.0, 1.0),
    group="inference",
  )
  prediction_js_threshold: float = setting(
    0.1,
    "Largest Jensen-Shannon divergence (base 2, from 0 to 1) allowed between the same "
    "distributions (0 checks nothing).",
    bounds=(0.0, 1.0),
    group="inference",
  )
  confidence_drift_threshold: float = setting(
    0.05,
    "Largest change allowed in the mean top probability between this and the previous "
    "--infer-dir run (0 checks nothing).",
    bounds=(0.0, 1.0),
    group="inference",
  )
  accuracy_threshold: float = setting(
    0.8, "Overall eval accuracy needed to bless the model.", bounds=(0.0, 1.0), group="evaluation"
  )
  min_class_recall: float = setting(
    0.5, "Recall every class must reach.", bounds=(0.0, 1.0), group="evaluation"
  )
  min_class_precision: float = setting(
    0.5, "Precision every class must reach.", bounds=(0.0, 1.0), group="evaluation"
  )
  change_threshold: float = setting(
    0.0,
    "Allowed accuracy change against the last blessed model on the same gate split: 0, a "
    "candidate may not be worse; negative allows a drop (a pushed model that is worse than "
    "its baseline is named on the console).",
    bounds=(-1.0, 1.0),
    group="evaluation",
  )
  warmup_requests: int = setting(
    8,
    "Real eval images the serving check sends to the model before the push; they are also "
    "written as TF Serving warmup requests.",
    bounds=(1, None),
    group="serving",
  )
  max_batch_size: int = setting(
    64,
    "TF Serving's max_batch_size, written to batching_parameters.txt; no warmup request is larger.",
    bounds=(1, None),
    group="serving",
  )
  export: List[str] = setting(
    ["tflite"],
    f"Formats a blessed model is also exported to, comma-separated ({', '.join(EXPORT_FORMATS)}"
    "; none for no export): each held to one parity gate (top-1 agreement with the "
    "SavedModel on the gated split of at least 0.98) and pushed inside the version when it "
    "passes (default: tflite).",
    choices=EXPORT_FORMATS,
    parse=parse_names,
    group="serving",
  )
  keep_versions: int = setting(
    5,
    "Pushed versions kept in serving_model/; older ones (and their reports) are removed after "
    "a push, never the newest.",
    bounds=(1, None),
    group="serving",
  )
  output_dir: str = setting(
    "tfx_output",
    "Where the pipeline root, metadata.db, serving_model/ and run_summary.json go.",
    group="run",
  )
  pipeline_name: str = setting("image-classification", "The pipeline's name in MLMD.", group="run")
  no_cache: bool = setting(False, "Re-run every stage (TFX's cache off).", group="run")
  # Empty: Beam's DirectRunner defaults (in_memory, one worker). Any flag here makes TFX build a
  # tfx_ephemeral sdist for Beam workers in every Beam stage (about 1 s each).
  beam_pipeline_args: List[str] = setting(
    [],
    "Beam's flags as one quoted string, e.g. --beam-pipeline-args='--direct_running_mode="
    "multi_processing --direct_num_workers=0' for every core (default: none).",
    parse=shlex.split,
    group="run",
  )

  @property
  def enable_cache(self) -> bool:
    return not self.no_cache

  @property
  def pipeline_root(self) -> str:
    return os.path.join(self.output_dir, filenames.PIPELINE_ROOT)

  @property
  def metadata_path(self) -> str:
    return os.path.join(self.output_dir, filenames.METADATA_DB)

  @property
  def serving_model_dir(self) -> str:
    return os.path.join(self.output_dir, filenames.SERVING_DIR)

  def run_context(self):
    """What the reporting layer needs of this config (reporting.build.RunContext)."""
    return RunContext(
      pipeline_name=self.pipeline_name,
      output_dir=self.output_dir,
      serving_model_dir=self.serving_model_dir,
      data_dir=self.data_dir,
      accuracy_threshold=self.accuracy_threshold,
      min_class_recall=self.min_class_recall,
      min_class_precision=self.min_class_precision,
      change_threshold=self.change_threshold,
      label_budget=self.label_budget,
      prediction_drift_thresholds=PredictionDriftThresholds(
        self.prediction_drift_threshold,
        self.prediction_js_threshold,
        self.confidence_drift_threshold,
      ),
    )

  @property
  def sample_data_dir(self) -> str:
    return os.path.join(self.output_dir, filenames.SAMPLE_DATA)

  def errors(self) -> Iterator[str]:
    """Also what the fields mean together, and the paths (pipeline/paths.py)."""
    yield from super().errors()
    usage = ensembles.usage_error(self.ensemble, self.ensemble_models, self.tune)
    if usage:
      yield usage
      return
    pretrained = sorted({m.model for m in ensembles.members(self)} & set(MODEL_VARIANTS))
    if pretrained and self.image_size < MIN_PRETRAINED_SIZE:
      yield (
        f"--model {pretrained[0]} needs --image-size {MIN_PRETRAINED_SIZE} or more "
        "(Keras' smallest input for its backbones)"
      )
    if (
      not {"train", "eval"} <= set(self.splits) <= {"train", "eval", "test"}
      or min(self.splits.values()) < 1
    ):
      yield (
        "--splits needs positive weights for train, eval and optionally test, "
        "e.g. train=8,eval=1,test=1"
      )
    records = self.warmup_requests + math.ceil(self.warmup_requests / self.max_batch_size)
    if records > MAX_WARMUP_RECORDS:
      yield (
        f"--warmup-requests {self.warmup_requests} makes {records} warmup "
        f"records (one per image, then batches of at most --max-batch-size "
        f"{self.max_batch_size}); TF Serving replays at most {MAX_WARMUP_RECORDS}"
      )
    yield from paths.data_errors("--data-dir", self.data_dir)
    yield from paths.data_errors("--infer-dir", self.infer_dir)
    if self.weights not in (IMAGENET_WEIGHTS, NO_WEIGHTS):
      yield from paths.file_errors("--weights", self.weights)
    yield from paths.output_errors("--output-dir", self.output_dir)


@dataclasses.dataclass(kw_only=True)
class LocalOptions(Settings):
  """How local_runner.py runs a PipelineConfig (not part of the pipeline's definition)."""

  wait: bool = setting(
    False,
    "When another run holds the output dir, wait for it to end instead of exiting with status 2.",
    group="run",
  )
  verbose: bool = setting(
    False,
    "Show everything on the console (TFX, Beam, TensorFlow logs); otherwise it goes to "
    "<output-dir>/logs/<run>.log.",
    group="run",
  )


# Every command's settings: what an IMAGE_PIPELINE_* variable may name.
SETTINGS = (PipelineConfig, LocalOptions, cloud.CloudConfig, cloud.CompileOptions)


def _parser_of(field: dataclasses.Field):
  """What turns a flag's or environment variable's text into the field's value."""
  if field.metadata.get("parse"):
    return field.metadata["parse"]
  kind = field.type
  if typing.get_origin(kind) is typing.Union:  # Optional[X]
    kind = next(arg for arg in typing.get_args(kind) if arg is not type(None))
  return parse_bool if kind is bool else kind


def env_name(field: dataclasses.Field) -> str:
  """The environment variable of a field: its flag's, e.g. IMAGE_PIPELINE_NO_CACHE."""
  return ENV_PREFIX + flag_name(field)[2:].replace("-", "_").upper()


def _env_default(field: dataclasses.Field, default):
  """IMAGE_PIPELINE_<FLAG> in the environment replaces a field's default; a value that does not
  parse, or breaks the field's bounds or choices, is a ConfigError naming the variable."""
  name = env_name(field)
  raw = os.environ.get(name)
  if raw is None:
    return default
  try:
    value = _parser_of(field)(raw)
  except (ValueError, argparse.ArgumentTypeError) as e:
    raise ConfigError(f"environment variable {name}={raw!r}: {e}") from e
  error = value_error(field, value)
  if error:
    raise ConfigError(f"environment variable {name}={raw!r}: {error}")
  return value


def unknown_variables() -> List[str]:
  """The IMAGE_PIPELINE_* variables in the environment that no command reads, each with the
  one meant where one is close (e.g. "IMAGE_PIPELINE_EPOCH (IMAGE_PIPELINE_EPOCHS?)")."""
  known = {env_name(f)[len(ENV_PREFIX) :] for cls in SETTINGS for f in dataclasses.fields(cls)}
  unknown = []
  for name in sorted(n for n in os.environ if n.startswith(ENV_PREFIX)):
    setting_name = name[len(ENV_PREFIX) :]
    if setting_name not in known:
      close = difflib.get_close_matches(setting_name, known, n=1)
      unknown.append(name + "".join(f" ({ENV_PREFIX}{m}?)" for m in close))
  return unknown


class _Parser(argparse.ArgumentParser):
  """Usage errors become ConfigErrors; flags must be spelt out (no unique-prefix guessing:
  `--epoch 3` or `--lr 0.01` is an error, not a silent match)."""

  def __init__(self, **kwargs):
    super().__init__(allow_abbrev=False, **kwargs)

  def error(self, message):
    raise ConfigError(message)


def _default(field: dataclasses.Field):
  """The field's declared default (not what __post_init__ may make of it)."""
  if field.default_factory is not dataclasses.MISSING:
    return field.default_factory()
  return field.default


def _add_flag(group, field: dataclasses.Field) -> None:
  default = _env_default(field, _default(field))
  text = field.metadata["help"]
  if "default" not in text.lower():
    text += " (default: %(default)s)"
  if field.type is bool:  # --x and --no-x: one in the environment can be undone here
    group.add_argument(
      flag_name(field),
      dest=field.name,
      action=argparse.BooleanOptionalAction,
      default=default,
      help=text,
    )
    return
  choices = field.metadata.get("choices")
  group.add_argument(
    flag_name(field),
    dest=field.name,
    type=_parser_of(field),
    # A list's items are checked by errors(), which names the unknown ones.
    choices=choices if choices and not isinstance(default, list) else None,
    default=default,
    help=text,
  )


def build_parser(
  settings: Sequence[type] = (PipelineConfig,),
  only: Optional[Sequence[str]] = None,
  description: str = "Image-classification TFX pipeline: ingest a folder of labeled images, "
  "validate, transform, train, evaluate per class and push a TF Serving model.",
  **parser_args,
) -> argparse.ArgumentParser:
  """A command's flags: one per field of `settings` (or of those named in `only`), grouped as
  GROUPS, each default from the environment where set there."""
  parser = _Parser(
    description=f"{description} Every flag's default can also be set in the environment as "
    f"{ENV_PREFIX}<FLAG> (e.g. {ENV_PREFIX}OUTPUT_DIR=runs; booleans take 1/0, true/false, "
    "yes/no, on/off, and --no-<flag> undoes one).",
    **parser_args,
  )
  fields = [
    f for cls in settings for f in dataclasses.fields(cls) if only is None or f.name in only
  ]
  used = {f.metadata["group"] for f in fields}
  groups = {
    name: parser.add_argument_group(title) for name, title in GROUPS.items() if name in used
  }
  for field in fields:
    _add_flag(groups[field.metadata["group"]], field)
  return parser


def check(settings: Settings) -> Settings:
  """`settings`, or a ConfigError with the first thing wrong with it."""
  error = next(settings.errors(), None)
  if error:
    raise ConfigError(error)
  return settings


def parse(
  argv: Optional[List[str]] = None, settings: Sequence[type] = (PipelineConfig,), **parser_args
) -> Tuple:
  """One checked instance of each of `settings` from defaults, environment and `argv`, before
  anything heavy is imported (ConfigError: a usage error). An IMAGE_PIPELINE_* variable that
  no command reads is named on stderr first."""
  unknown = unknown_variables()
  if unknown:
    print(f"warning: not a setting, ignored: {', '.join(unknown)}", file=sys.stderr)
  args = build_parser(settings, **parser_args).parse_args(argv)
  given = given_fields(settings, sys.argv[1:] if argv is None else argv)
  return tuple(
    check(
      cls(
        **{f.name: getattr(args, f.name) for f in dataclasses.fields(cls) if f.name in args}
      ).with_presets(given)
    )
    for cls in settings
  )


def given_fields(settings: Sequence[type], argv: Sequence[str]) -> Set[str]:
  """The fields of `settings` that a flag in `argv` (its --no- form too) or an
  IMAGE_PIPELINE_* variable sets: a preset (--recipe) leaves them as they are."""
  given = set()
  for field in (f for cls in settings for f in dataclasses.fields(cls)):
    flag = flag_name(field)
    flags = {flag, "--no-" + flag[2:]}
    if env_name(field) in os.environ or any(arg.split("=", 1)[0] in flags for arg in argv):
      given.add(field.name)
  return given
