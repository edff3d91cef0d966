"""What reaches ImageExampleGen from the flags: --keep-duplicates, the output dir as a folder
never listed, --classes checked against the data; spans, versions and manifests described."""

import json
import os

import pytest

from components.image_example_gen import executor, sources, spans
from components.image_example_gen.errors import InputError
from pipeline import configs, inputs
from pipeline.pipeline import create_pipeline
from tests import images


def _config(argv):
  """The checked PipelineConfig of a command line (defaults, environment, flags)."""
  return configs.parse(argv)[0]


def _example_gen_config(argv):
  config = _config(argv)
  pipeline = create_pipeline(config, inputs.describe_input(config))
  [example_gen] = [c for c in pipeline.components if c.id == "ImageExampleGen"]
  return executor.unpack_custom_config(dict(example_gen.exec_properties))


@pytest.fixture
def tree(tmp_path):
  images.write_tree(str(tmp_path / "data"), images.digit_files({0: 2, 1: 2}, folder="c{digit}"))
  return str(tmp_path / "data")


def test_keep_duplicates_flag_and_environment_reach_the_component(tree, monkeypatch):
  assert _example_gen_config(["--data-dir", tree])["keep_duplicates"] is False
  assert _example_gen_config(["--data-dir", tree, "--keep-duplicates"])["keep_duplicates"]
  monkeypatch.setenv("IMAGE_PIPELINE_KEEP_DUPLICATES", "true")
  assert _example_gen_config(["--data-dir", tree])["keep_duplicates"] is True


def test_the_output_dir_inside_the_data_dir_is_never_a_class(tree, monkeypatch):
  monkeypatch.chdir(tree)  # `--data-dir .` with the default output dir, tfx_output
  images.write_tree("tfx_output", {"report/confusion_matrix.png": b"png"})
  config = _config(["--data-dir", "."])
  assert inputs.describe_input(config).classes == ["c0", "c1"]
  assert _example_gen_config(["--data-dir", "."])["skip_dirs"] == [os.path.join(tree, "tfx_output")]


def test_classes_named_but_not_found_stop_before_any_stage(tree):
  with pytest.raises(configs.ConfigError, match="not found in .*: zz"):
    inputs.describe_input(_config(["--data-dir", tree, "--classes", "c0,c1,zz"]))


def test_a_manifest_with_a_byte_order_mark_is_read(tmp_path):
  manifest = tmp_path / "labels.csv"
  manifest.write_text("Path , Label\ncats/a.png,cat\ndogs/b.png,dog\n", encoding="utf-8-sig")
  source = inputs.describe_input(_config(["--data-dir", str(manifest)]))
  assert [s.pattern for s in source.input_config.splits] == ["labels.csv"]
  assert source.classes == ["cat", "dog"]


def test_span_and_version_are_resolved_by_tfx_utilities(tmp_path):
  two = images.digit_files({0: 1, 1: 1}, folder="c{digit}")
  for folder in ("day-01/v1", "day-02/v1", "day-02/v3", "day-02/v10"):
    images.write_tree(str(tmp_path / folder), two)
  source = sources.describe(str(tmp_path / "day-{SPAN:2}" / "v{VERSION}"))
  assert source.input_base == str(tmp_path)
  assert [s.pattern for s in source.input_config.splits] == ["day-{SPAN:2}/v{VERSION}/*/*"]
  span, version, resolved = spans.resolve_span_and_version(
    source.input_base, source.input_config.splits
  )
  assert (span, version, resolved[0].pattern) == (2, 10, "day-02/v10/*/*")
  config = json.dumps({"splits": [{"name": "images", "pattern": "day-{SPAN:2}/v{VERSION}/*/*"}]})
  assert spans.span_path(str(tmp_path), config) == str(tmp_path / "day-{SPAN:2}" / "v{VERSION}")
  presplit = json.dumps({"splits": [{"name": "test", "pattern": "day-{SPAN}/test/*/*"}]})
  assert spans.span_path(str(tmp_path), presplit) == str(tmp_path / "day-{SPAN}")
  manifest = json.dumps({"splits": [{"name": "images", "pattern": "labels-{SPAN}.csv"}]})
  assert spans.span_path("gs://b/x", manifest) == "gs://b/x/labels-{SPAN}.csv"
  plain = json.dumps({"splits": [{"name": "train", "pattern": "train/*/*"}]})
  assert spans.span_path(str(tmp_path), plain) == str(tmp_path)  # no pattern: the root
  # A data root that repeats the pattern (a compiled spec's data_root given the whole path).
  with pytest.raises(InputError, match="the folder above the span folders"):
    spans.resolve_span_and_version(str(tmp_path / "day-{SPAN:2}"), source.input_config.splits)
  manifest = tmp_path / "labels-7.csv"
  manifest.write_text("path,label\nday-01/v1/c0/a.png,c0\nday-01/v1/c1/b.png,c1\n")
  source = sources.describe(str(tmp_path / "labels-{SPAN}.csv"))
  assert [s.pattern for s in source.input_config.splits] == ["labels-{SPAN}.csv"]
  assert source.classes == ["c0", "c1"]
  with pytest.raises(InputError, match="Cannot find matching"):
    sources.describe(str(tmp_path / "week-{SPAN}"))


def test_the_compiled_input_config_keeps_the_placeholders(tmp_path):
  images.write_tree(str(tmp_path / "day-3"), images.digit_files({0: 1, 1: 1}, folder="c{digit}"))
  config = _config(["--data-dir", str(tmp_path / "day-{SPAN}")])
  pipeline = create_pipeline(config, inputs.describe_input(config))
  [example_gen] = [c for c in pipeline.components if c.id == "ImageExampleGen"]
  assert json.loads(example_gen.exec_properties["input_config"])["splits"] == [
    {"name": "images", "pattern": "day-{SPAN}/*/*"}
  ]


@pytest.fixture
def offline_keras(monkeypatch, tmp_path):
  """An empty Keras cache and weights addresses nothing answers: no network, as here."""
  from trainer_module import model  # noqa: PLC0415  (TensorFlow: only for the tests that need it)

  monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
  monkeypatch.setattr(model.efficientnet, "BASE_WEIGHTS_PATH", "http://127.0.0.1:9/")
  return tmp_path / "keras" / "models"


def test_imagenet_weights_are_the_pretrained_families_default_and_none_trains_from_scratch(
  tree, offline_keras
):
  assert _config(["--model", "efficientnet"]).initial_weights == "imagenet"
  assert _config(["--model", "mobilenet", "--weights", "none"]).initial_weights is None
  assert _config(["--weights", "none"]).initial_weights is None  # the CNN
  assert _config([]).initial_weights is None
  scratch = _config(["--data-dir", tree, "--model", "efficientnet", "--weights", "none"])
  assert inputs.resolve_weights(scratch) is scratch  # nothing to fetch
  with pytest.raises(configs.ConfigError) as raised:
    inputs.resolve_weights(_config(["--data-dir", tree, "--model", "efficientnet"]))
  message = str(raised.value)
  assert "efficientnetb0_notop.h5" in message and "--weights none" in message
  assert f"put it in {offline_keras / 'efficientnetb0_notop.h5'}" in message


@pytest.mark.integration  # the runner's run: heavy imports, its record
def test_weights_that_cannot_be_fetched_stop_the_run_before_any_stage(
  tree, offline_keras, tmp_path, capsys
):
  import local_runner  # noqa: PLC0415  (the runner, for this test only)

  out = tmp_path / "out"
  code = local_runner.main(
    ["--data-dir", tree, "--output-dir", str(out), "--model", "efficientnet"]
  )
  assert code == 2
  (line,) = capsys.readouterr().err.strip().splitlines()
  assert "efficientnetb0_notop.h5" in line and "--weights none" in line
  with open(out / "run_summary.json") as f:
    summary = json.load(f)
  assert summary["status"] == "input_error" and "efficientnetb0_notop.h5" in summary["error"]
  assert not (out / "pipeline").exists()  # no stage ran
