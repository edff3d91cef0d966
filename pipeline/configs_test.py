"""Config: defaults, environment and flag overrides, and the runner's usage errors (exit 2)."""

import dataclasses
import os
import subprocess
import sys
from typing import Optional

import pytest

from pipeline import cloud, configs, inputs


def _config(argv):
  """The checked PipelineConfig of a command line (defaults, environment, flags)."""
  return configs.parse(argv)[0]


ROOT = __file__.rsplit("/pipeline/", 1)[0]


def test_flags_override_defaults(tmp_path):
  config = _config(
    [
      "--data-dir",
      str(tmp_path),
      "--model",
      "efficientnet",
      "--image-size",
      "64",
      "--epochs",
      "2",
      "--accuracy-threshold",
      "0.9",
      "--min-class-recall",
      "0.7",
      "--pipeline-name",
      "p",
      "--splits",
      "train=3,eval=1",
    ]
  )
  assert (config.data_dir, config.model, config.image_size, config.epochs) == (
    str(tmp_path),
    "efficientnet",
    64,
    2,
  )
  assert (config.accuracy_threshold, config.min_class_recall, config.pipeline_name) == (
    0.9,
    0.7,
    "p",
  )
  assert config.splits == {"train": 3, "eval": 1}
  assert config.metadata_path == "tfx_output/metadata.db"


def test_training_flags():
  config = _config(
    [
      "--model",
      "efficientnet",
      "--model-variant",
      "b2",
      "--augment",
      "flip,zoom",
      "--class-weights",
      "balanced",
      "--tune",
      "--tune-trials",
      "6",
      "--cache",
      "disk",
      "--fine-tune-epochs",
      "0",
    ]
  )
  assert (config.model_variant, config.augment, config.class_weights) == (
    "b2",
    ["flip", "zoom"],
    "balanced",
  )
  assert (config.tune, config.tune_trials, config.cache, config.fine_tune_epochs) == (
    True,
    6,
    "disk",
    0,
  )
  defaults = _config([])
  assert (defaults.augment, defaults.class_weights, defaults.tune) == ([], "auto", False)
  assert _config(["--augment", "none"]).augment == []
  assert (defaults.lr_schedule, _config(["--lr-schedule", "plateau"]).lr_schedule) == (
    "cosine",
    "plateau",
  )


def test_each_family_has_its_default_variant_and_the_cnn_none():
  assert [_config(["--model", m]).variant for m in ("cnn", "efficientnet")] == [
    None,
    "b0",
  ]
  mobilenet = _config(["--model", "mobilenet", "--weights", __file__])
  assert (mobilenet.model_variant, mobilenet.variant, mobilenet.weights) == (None, "v2", __file__)
  large = _config(["--model", "mobilenet", "--model-variant", "v3large"])
  assert large.variant == "v3large"


def test_environment_sets_defaults_and_flags_win(monkeypatch):
  monkeypatch.setenv("IMAGE_PIPELINE_EPOCHS", "5")
  monkeypatch.setenv("IMAGE_PIPELINE_OUTPUT_DIR", "/tmp/elsewhere")
  assert _config([]).epochs == 5
  assert _config([]).serving_model_dir == "/tmp/elsewhere/serving_model"
  assert _config(["--epochs", "3"]).epochs == 3
  monkeypatch.setenv("IMAGE_PIPELINE_AUGMENT", "flip,rotation")
  monkeypatch.setenv("IMAGE_PIPELINE_TUNE", "true")
  assert _config([]).augment == ["flip", "rotation"] and _config([]).tune


def test_a_recipe_sets_its_settings_unless_a_flag_or_variable_gives_them(monkeypatch):
  plain = _config([])
  assert (plain.recipe, plain.width, plain.augment, plain.label_smoothing, plain.ema) == (
    None,
    32,
    [],
    0.0,
    False,
  )
  assert not plain.one_hot_labels
  strong = _config(["--recipe", "strong"])
  assert (strong.width, strong.augment, strong.label_smoothing, strong.ema) == (
    48,
    ["flip"],
    0.1,
    True,
  )
  assert strong.lr_schedule == "cosine" and strong.one_hot_labels
  assert strong.compile_options == {"label_smoothing": 0.1, "one_hot": True, "ema": True}
  mine = _config(["--recipe", "strong", "--augment", "none", "--no-ema", "--width=40"])
  assert (mine.width, mine.augment, mine.label_smoothing, mine.ema) == (40, [], 0.1, False)
  monkeypatch.setenv("IMAGE_PIPELINE_LABEL_SMOOTHING", "0")
  monkeypatch.setenv("IMAGE_PIPELINE_RECIPE", "strong")
  from_env = _config(["--augment", "mixup"])
  assert (from_env.label_smoothing, from_env.augment, from_env.ema) == (0.0, ["mixup"], True)
  assert from_env.one_hot_labels  # MixUp blends labels: one-hot without smoothing too
  # The Trainer receives the settings the recipe set, and the recipe's name.
  sent = strong.custom_config()
  assert (sent["recipe"], sent["width"], sent["ema"]) == ("strong", 48, True)


def test_beam_args_are_one_quoted_string_in_flags_and_environment(monkeypatch):
  beam_args = ["--direct_running_mode=multi_processing", "--direct_num_workers=0"]
  assert _config([f"--beam-pipeline-args={' '.join(beam_args)}"]).beam_pipeline_args == beam_args
  assert _config(["--beam-pipeline-args", " ".join(beam_args)]).beam_pipeline_args == beam_args
  monkeypatch.setenv("IMAGE_PIPELINE_BEAM_PIPELINE_ARGS", " ".join(beam_args))
  assert _config([]).beam_pipeline_args == beam_args


@pytest.mark.parametrize(
  "argv, message",
  [
    (["--model", "resnet"], "invalid choice"),
    (["--accuracy-threshold", "1.5"], "between 0 and 1"),
    (["--image-size", "4"], "between 8 and 1024"),
    (["--model", "efficientnet", "--image-size", "16"], "32 or more"),
    (["--model", "mobilenet", "--image-size", "24"], "--model mobilenet needs --image-size 32"),
    (
      ["--model", "mobilenet", "--model-variant", "b0"],
      "--model-variant b0 does not apply to --model mobilenet; choose from v2, v3small, v3large",
    ),
    (
      ["--model", "efficientnet", "--model-variant", "v2"],
      "--model-variant v2 does not apply to --model efficientnet; choose from b0, b1, b2, b3",
    ),
    (["--model-variant", "v3small"], "--model-variant v3small does not apply to --model cnn$"),
    (["--weights", __file__], "--weights applies to --model efficientnet or mobilenet only"),
    (["--splits", "train=8"], "train, eval"),
    (["--splits", "train=8,eval=1,holdout=1"], "train, eval"),
    (["--epochs", "0"], "at least 1"),
    (["--label-smoothing", "0.6"], "--label-smoothing must be between 0 and 0.5, got 0.6"),
    (["--recipe", "fast"], "argument --recipe: invalid choice: 'fast'"),
    (["--augment", "flip,cutout"], "--augment: unknown cutout; choose from flip, rotation"),
    (
      ["--weights", "/no/such/file.h5", "--model", "efficientnet"],
      "^--weights /no/such/file.h5 does not exist$",
    ),
    (["--classes", ","], "argument --classes: names no class: ','"),
    (["--classes", ""], "argument --classes: names no class"),
    (["--model-variant", "b7"], "invalid choice"),
    (["--augment", "flip,cutout"], "unknown cutout"),
    (["--class-weights", "sometimes"], "invalid choice"),
    (["--lr-schedule", "step"], "invalid choice"),
    (["--dropout", "1.0"], "dropout"),
    (["--tune-trials", "0"], "tune-trials"),
    (["--min-class-precision", "-0.1"], "min-class-precision must be between 0 and 1"),
    (["--warmup-requests", "0"], "at least 1"),
    (["--warmup-requests", "999"], "1015 warmup records"),
    (["--warmup-requests", "600", "--max-batch-size", "1"], "1200 warmup records"),
    (["--learning-rate", "nan"], "learning-rate must be a finite number, got nan"),
    (["--learning-rate", "-1"], "learning-rate must be between"),
    (["--learning-rate", "inf"], "learning-rate must be a finite number"),
    (["--change-threshold", "nan"], "change-threshold must be a finite number"),
    (["--change-threshold", "-2"], "change-threshold must be between -1 and 1"),
    (["--max-image-pixels", "-5"], "max-image-pixels must be at least 1"),
    (["--min-image-size", "0"], "min-image-size must be at least 1"),
    (["--max-batch-size", "0"], "max-batch-size must be at least 1"),
    (["--splits", "train=8,eval=2,train=1"], "split train given more than once"),
    (["--dropout", "nan"], "dropout must be a finite number"),
    (["--epoch", "3"], "unrecognized arguments: --epoch 3"),
    (["--image", "64"], "unrecognized arguments: --image 64"),
    (["--lr", "0.01"], "unrecognized arguments: --lr 0.01"),
    (["--ensemble", "0"], "--ensemble must be at least 1, got 0"),
    (["--ensemble-models", "cnn"], "--ensemble-models needs at least two models"),
    (["--ensemble-models", "cnn,resnet"], "--ensemble-models: unknown resnet; choose from cnn"),
    (["--ensemble", "3", "--ensemble-models", "cnn,cnn"], "--ensemble 3 and --ensemble-models"),
    (["--ensemble", "2", "--tune"], "--tune searches one model's hyperparameters"),
    (["--ensemble-models", "cnn,efficientnet", "--image-size", "16"], "32 or more"),
    (["--ensemble", "2", "--weights", "/w.h5"], "--weights applies to --model efficientnet"),
  ],
)
def test_bad_settings_are_config_errors(argv, message):
  with pytest.raises(configs.ConfigError, match=message):
    _config(argv)


@pytest.mark.parametrize("settings", configs.SETTINGS, ids=lambda cls: cls.__name__)
def test_every_setting_is_a_documented_flag_and_every_number_is_bounded(settings):
  parser = configs.build_parser([settings])
  actions = parser._actions  # noqa: SLF001  (argparse lists its flags nowhere public)
  flags = {flag: action for action in actions for flag in action.option_strings}
  for field in dataclasses.fields(settings):
    action = flags[field.metadata.get("flag") or "--" + field.name.replace("_", "-")]
    assert action.dest == field.name and action.help, field.name
    if field.type in (int, float, Optional[int], Optional[float]):
      assert field.metadata["bounds"] or field.metadata["choices"], field.name


def test_flags_take_their_values_and_help_from_the_fields(monkeypatch):
  monkeypatch.setenv("IMAGE_PIPELINE_DROPOUT", "0.25")
  text = configs.build_parser().format_help()
  assert "--cache {auto,memory,disk,none}" in text
  assert "Dropout before the classifier. (default: 0.25)" in " ".join(text.split())
  assert text.index("input data:") < text.index("training:") < text.index("serving:")


def test_bad_environment_values_name_the_variable(monkeypatch):
  monkeypatch.setenv("IMAGE_PIPELINE_EPOCHS", "ten")
  with pytest.raises(configs.ConfigError, match="IMAGE_PIPELINE_EPOCHS='ten'"):
    _config([])
  monkeypatch.setenv("IMAGE_PIPELINE_EPOCHS", "3")
  monkeypatch.setenv("IMAGE_PIPELINE_SPLITS", "train=8,eval=x")
  with pytest.raises(configs.ConfigError, match="IMAGE_PIPELINE_SPLITS"):
    _config([])
  monkeypatch.delenv("IMAGE_PIPELINE_SPLITS")
  monkeypatch.setenv("IMAGE_PIPELINE_CACHE", "ram")
  with pytest.raises(
    configs.ConfigError,
    match="^environment variable IMAGE_PIPELINE_CACHE='ram': must be one of auto, memory, disk",
  ):
    _config([])
  monkeypatch.setenv("IMAGE_PIPELINE_CACHE", "disk")
  monkeypatch.setenv("IMAGE_PIPELINE_DROPOUT", "1.5")
  with pytest.raises(configs.ConfigError, match="IMAGE_PIPELINE_DROPOUT='1.5': must be between"):
    _config([])


def test_input_needs_two_non_empty_class_folders(tmp_path):
  def describe(path):
    return inputs.describe_input(_config(["--data-dir", str(path)]))

  (tmp_path / "cat").mkdir()
  (tmp_path / "cat" / "a.png").write_bytes(b"x")
  with pytest.raises(configs.ConfigError, match="at least two classes, found 1: cat"):
    describe(tmp_path)
  (tmp_path / "dog").mkdir()
  with pytest.raises(configs.ConfigError, match="empty class folder.*dog"):
    describe(tmp_path)
  (tmp_path / "dog" / "b.png").write_bytes(b"x")
  (tmp_path / ".hidden").mkdir()
  assert describe(tmp_path).classes == ["cat", "dog"]
  with pytest.raises(configs.ConfigError, match="^--data-dir .*missing does not exist$"):
    describe(tmp_path / "missing")


def _runner(*argv):
  return subprocess.run(
    [sys.executable, "local_runner.py", *argv],
    cwd=ROOT,
    capture_output=True,
    text=True,
    timeout=300,
  )


@pytest.mark.integration
def test_runner_usage_errors_exit_2_with_one_line(tmp_path, monkeypatch):
  for argv in (["--epochs", "zero"], ["--data-dir", str(tmp_path / "missing")], ["--epoch", "3"]):
    result = _runner(*argv, "--output-dir", str(tmp_path / "out"))
    assert result.returncode == 2, result.stderr
    # Refused before TensorFlow is imported: its start-up lines never come; ours is the one.
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert not (tmp_path / "out").exists()
  monkeypatch.setenv("IMAGE_PIPELINE_EPOCHS", "ten")
  result = _runner("--output-dir", str(tmp_path / "out"))
  assert result.returncode == 2
  assert result.stderr.strip().splitlines() == [
    "error: environment variable IMAGE_PIPELINE_EPOCHS='ten': invalid literal for int() with "
    "base 10: 'ten'"
  ]


@pytest.mark.integration
def test_runner_help_documents_every_contract_flag():
  result = _runner("--help")
  assert result.returncode == 0
  for flag in (
    "--data-dir",
    "--output-dir",
    "--model",
    "--image-size",
    "--epochs",
    "--accuracy-threshold",
    "--min-class-recall",
    "--pipeline-name",
    "--weights",
    "--min-class-precision",
    "--change-threshold",
    "--warmup-requests",
  ):
    assert flag in result.stdout


@pytest.mark.parametrize("text, value", [("1", True), ("TRUE", True), ("Yes", True), ("on", True)])
def test_booleans_in_the_environment_are_read_strictly_and_undone_by_their_no_flag(
  monkeypatch, text, value
):
  monkeypatch.setenv("IMAGE_PIPELINE_KEEP_DUPLICATES", text)
  assert _config([]).keep_duplicates is value
  assert _config(["--no-keep-duplicates"]).keep_duplicates is False
  monkeypatch.setenv("IMAGE_PIPELINE_KEEP_DUPLICATES", {"1": "0"}.get(text, "off"))
  assert _config([]).keep_duplicates is False
  assert _config(["--keep-duplicates"]).keep_duplicates is True


@pytest.mark.parametrize("variable", ["KEEP_DUPLICATES", "TUNE", "NO_CACHE"])
def test_a_boolean_that_is_not_one_names_its_variable(monkeypatch, variable):
  monkeypatch.setenv(f"IMAGE_PIPELINE_{variable}", "maybe")
  with pytest.raises(
    configs.ConfigError,
    match=f"^environment variable IMAGE_PIPELINE_{variable}='maybe': expected one of "
    "1/true/yes/on/0/false/no/off, got 'maybe'$",
  ):
    _config([])


def test_each_variable_is_named_after_its_flag(monkeypatch):
  for settings in configs.SETTINGS:
    for field in dataclasses.fields(settings):
      flag = field.metadata.get("flag") or "--" + field.name.replace("_", "-")
      assert configs.env_name(field) == "IMAGE_PIPELINE_" + flag[2:].replace("-", "_").upper()
  monkeypatch.setenv("IMAGE_PIPELINE_NO_CACHE", "1")  # --no-cache's (the field: no_cache)
  assert _config([]).enable_cache is False
  assert _config(["--no-no-cache"]).enable_cache is True
  monkeypatch.setenv(
    "IMAGE_PIPELINE_COMPILE", "spec.json"
  )  # --compile's (CompileOptions.spec_path)
  (options,) = configs.parse([], [cloud.CompileOptions])
  assert options.spec_path == "spec.json"


def test_an_unknown_variable_is_named_on_one_warning_line(monkeypatch, capsys):
  for name in [n for n in os.environ if n.startswith("IMAGE_PIPELINE_")]:
    monkeypatch.delenv(name)
  monkeypatch.setenv("IMAGE_PIPELINE_EPOCH", "3")
  monkeypatch.setenv("IMAGE_PIPELINE_COLOUR", "red")
  monkeypatch.setenv("IMAGE_PIPELINE_WAIT", "1")  # local_runner.py's: known to every command
  monkeypatch.setenv("IMAGE_PIPELINE_WORKERS", "2")  # kubeflow_runner.py's
  assert configs.unknown_variables() == [
    "IMAGE_PIPELINE_COLOUR",
    "IMAGE_PIPELINE_EPOCH (IMAGE_PIPELINE_EPOCHS?)",
  ]
  assert _config([]).epochs == 10
  assert capsys.readouterr().err == (
    "warning: not a setting, ignored: IMAGE_PIPELINE_COLOUR, "
    "IMAGE_PIPELINE_EPOCH (IMAGE_PIPELINE_EPOCHS?)\n"
  )


def test_the_runners_own_flags_come_from_the_environment_too(monkeypatch):
  monkeypatch.setenv("IMAGE_PIPELINE_WAIT", "yes")
  monkeypatch.setenv("IMAGE_PIPELINE_VERBOSE", "on")
  _, local = configs.parse([], [configs.PipelineConfig, configs.LocalOptions])
  assert (local.wait, local.verbose) == (True, True)
  _, local = configs.parse(["--no-wait"], [configs.PipelineConfig, configs.LocalOptions])
  assert (local.wait, local.verbose) == (False, True)
  monkeypatch.setenv("IMAGE_PIPELINE_VERTEX_TRAINING", "true")
  monkeypatch.setenv("IMAGE_PIPELINE_WORKERS", "3")
  monkeypatch.setenv("IMAGE_PIPELINE_ACCELERATOR_TYPE", "")
  monkeypatch.setenv("IMAGE_PIPELINE_SCHEDULE", "0 3 * * *")
  job, options = configs.parse([], [cloud.CloudConfig, cloud.CompileOptions])
  assert (job.vertex_training, job.workers, job.accelerator_count) == (True, 3, 0)
  assert (options.schedule, options.verbose, options.submit) == ("0 3 * * *", True, False)
  monkeypatch.setenv("IMAGE_PIPELINE_WORKERS", "0")
  with pytest.raises(configs.ConfigError, match="IMAGE_PIPELINE_WORKERS='0': must be at least 1"):
    configs.parse([], [cloud.CloudConfig])


def test_cloud_defaults_are_declared_once_and_read_the_environment_when_made(monkeypatch):
  (parsed,) = configs.parse([], [cloud.CloudConfig])
  assert parsed == cloud.CloudConfig()
  assert (parsed.accelerator_type, parsed.accelerator_count) == ("NVIDIA_TESLA_T4", 1)
  assert cloud.CloudConfig(accelerator_type="").accelerator_count == 0
  monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "set-after-import")
  monkeypatch.setenv("GOOGLE_CLOUD_REGION", "europe-west4")
  assert (cloud.CloudConfig().project, cloud.CloudConfig().region) == (
    "set-after-import",
    "europe-west4",
  )
  assert cloud.CloudConfig(project="p").project == "p"
  assert configs.parse(["--submit"], [cloud.CompileOptions])[0].submit
  with pytest.raises(configs.ConfigError, match="--submit and --schedule exclude each other"):
    configs.parse(["--submit", "--schedule", "0 3 * * *"], [cloud.CompileOptions])
