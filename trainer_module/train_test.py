"""run_fn and tuner_fn through the real Trainer and Tuner executors on digits."""

import json
import math
import os

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft

from tests import images, records, training
from trainer_module import cache, class_weights, contract, preprocessing, train
from trainer_module.constants import IMAGE_XF

pytestmark = pytest.mark.integration  # Beam, TFX executors, training or subprocesses

BASE_CONFIG = {
  "model": "cnn",
  "epochs": 1,
  "batch_size": 32,
  "learning_rate": 1e-3,
  "class_weights": "auto",
}
# Digit 0 is three times as frequent as the others: "auto" class weights apply.
PER_CLASS = {d: 170 if d == 0 else 55 for d in range(10)}


@pytest.fixture(scope="module")
def transformed(tmp_path_factory):
  work = tmp_path_factory.mktemp("transformed")
  data_dir = training.digits_tree(str(work / "digits"), PER_CLASS)
  return training.ingest_and_transform(data_dir, str(work), image_size=32, channels=1)


def _train(transformed, tmp_path, **config):
  return training.run_trainer(*transformed, str(tmp_path), {**BASE_CONFIG, **config})


def _log(model_run):
  with open(os.path.join(model_run.uri, train.TRAINING_LOG)) as f:
    return [json.loads(line) for line in f]


def _assert_serves_digits(model, num_classes=10):
  loaded = training.load(model)
  assert set(loaded.signatures) == {
    "serving_default",
    train.SERVING_EXAMPLES_SIGNATURE,
    train.TRANSFORM_SIGNATURE,
  }
  digits = images.digit_pixels(8)
  batch = tf.constant([images.encode(p, "png") for p, _ in digits])
  out = loaded.signatures["serving_default"](image_bytes=batch)
  assert out["probabilities"].shape == (8, num_classes)
  np.testing.assert_allclose(out["probabilities"].numpy().sum(axis=1), 1.0, rtol=1e-4)
  names = {n.decode() for n in out["class_names"].numpy()[0]}
  assert names == {str(d) for d in range(10)}
  assert all(c.decode() in names for c in out["classes"].numpy())
  return loaded, out


def test_label_counts_come_from_transform_and_auto_weights_favour_rare_classes(transformed):
  output = tft.TFTransformOutput(transformed[1].uri)
  counts = class_weights.label_counts(output)
  names = output.vocabulary_by_name("label")
  by_name = {names[i].decode(): n for i, n in counts.items()}
  assert set(by_name) == {str(d) for d in range(10)}
  # ~3/4 of each class is in train (hash split); digit 0 stays about three times the others.
  assert sum(by_name.values()) < sum(PER_CLASS.values())
  assert by_name["0"] > 2 * max(n for name, n in by_name.items() if name != "0")
  weights = class_weights.class_weights(counts, "auto")
  zero = names.index(b"0")
  assert weights[zero] < 0.5 < min(w for i, w in weights.items() if i != zero)
  np.testing.assert_allclose(sum(weights[i] * counts[i] for i in counts), sum(counts.values()))


def test_class_weight_modes():
  assert class_weights.class_weights({0: 10, 1: 12}, "auto") is None  # balanced enough
  assert class_weights.class_weights({0: 10, 1: 40}, "none") is None
  assert class_weights.class_weights({0: 10, 1: 12}, "balanced") == pytest.approx(
    {0: 1.1, 1: 22 / 24}
  )
  with pytest.raises(ValueError, match="class weights mode"):
    class_weights.class_weights({0: 1}, "sometimes")


# B1-B3 differ from B0 in the backbone only; model_test builds, trains, saves and reloads them.
@pytest.mark.parametrize("model,variant", [("cnn", "b0"), ("efficientnet", "b0")])
def test_each_model_trains_exports_reloads_and_serves_raw_bytes(
  transformed, tmp_path, model, variant
):
  trained, model_run = _train(transformed, tmp_path, model=model, model_variant=variant)
  _assert_serves_digits(trained)
  (epoch,) = _log(model_run)
  assert epoch["phase"] == "train" and epoch["images_per_second"] > 0
  assert np.isfinite(epoch["loss"]) and "val_sparse_categorical_accuracy" in epoch
  assert tf.io.gfile.glob(os.path.join(model_run.uri, "train", "*", "events.out.tfevents.*"))


def test_cnn_learns_digits_and_serving_is_deterministic(transformed, tmp_path):
  trained, model_run = _train(transformed, tmp_path, epochs=8, augment=["rotation", "zoom"])
  epochs = _log(model_run)
  # The default schedule: cosine decay from the configured rate towards 0 over the 8 epochs.
  np.testing.assert_allclose(
    [e["learning_rate"] for e in epochs],
    [1e-3 * 0.5 * (1 + math.cos(math.pi * (e["epoch"] - 1) / 8)) for e in epochs],
    rtol=1e-5,
  )
  # Early stopping restores the best epoch's weights: that one is the model exported.
  assert max(e["val_sparse_categorical_accuracy"] for e in epochs) > 0.8
  loaded, first = _assert_serves_digits(trained)
  digits = images.digit_pixels(60)[20:]
  batch = tf.constant([images.encode(p, "png") for p, _ in digits])
  out = loaded.signatures["serving_default"](image_bytes=batch)
  again = loaded.signatures["serving_default"](image_bytes=batch)
  # Augmentation is training-only: the exported model gives the same answer every time.
  np.testing.assert_array_equal(out["probabilities"].numpy(), again["probabilities"].numpy())
  predicted = [int(c) for c in out["classes"].numpy()]
  assert np.mean(np.array(predicted) == [d for _, d in digits]) > 0.7
  del first


def test_pretrained_weights_train_in_two_phases(transformed, tmp_path):
  source = keras.applications.EfficientNetB0(
    include_top=False, weights=None, input_shape=(32, 32, 3), pooling="avg"
  )
  weights = str(tmp_path / "efficientnetb0_notop.weights.h5")
  source.save_weights(weights)
  trained, model_run = _train(
    transformed,
    tmp_path,
    model="efficientnet",
    weights=weights,
    fine_tune_epochs=1,
    fine_tune_layers=10,
  )
  phases = [(e["phase"], e["epoch"]) for e in _log(model_run)]
  assert phases == [("train", 1), ("fine_tune", 2)]
  _assert_serves_digits(trained)


def test_tuner_best_hyperparameters_feed_the_trainer(transformed, tmp_path):
  config = {**BASE_CONFIG, "tune_trials": 2, "tune_epochs": 1}
  best = training.run_tuner(*transformed, str(tmp_path / "tuner"), config)
  with open(os.path.join(best.uri, "best_hyperparameters.txt")) as f:
    values = json.load(f)["values"]
  assert set(values) == {"learning_rate", "dropout", "width"}
  trained, _ = training.run_trainer(
    *transformed, str(tmp_path / "trainer"), config, hyperparameters=best
  )
  _assert_serves_digits(trained)
  # The first convolution has the tuned width.
  checkpoint = os.path.join(training.serving_model_dir(trained), "variables", "variables")
  kernels = {
    tuple(shape)
    for _, shape in tf.train.list_variables(checkpoint)
    if len(shape) == 4 and shape[2] == 1
  }
  assert kernels == {(3, 3, 1, values["width"])}


def test_training_input_is_reshuffled_every_epoch_and_eval_keeps_its_order(transformed):
  fn_args = training.fn_args(*transformed, BASE_CONFIG)
  output = tft.TFTransformOutput(fn_args.transform_graph_path)

  def epochs(dataset):
    return [np.concatenate([labels.numpy() for _, labels in dataset]) for _ in range(2)]

  first, second = epochs(
    train.input_fn(fn_args.train_files, fn_args.data_accessor, output, 16, training=True)
  )
  assert sorted(first) == sorted(second) and list(first) != list(second)
  first, second = epochs(
    train.input_fn(fn_args.eval_files, fn_args.data_accessor, output, 16, training=False)
  )
  assert list(first) == list(second)
  features, _ = next(
    iter(train.input_fn(fn_args.eval_files, fn_args.data_accessor, output, 16, training=False))
  )
  assert features[IMAGE_XF].shape == (16, 32, 32, 1)
  assert features[IMAGE_XF].dtype == tf.float32  # uint8 on disk, float32 pixels on the fly
  assert 200 < float(tf.reduce_max(features[IMAGE_XF])) <= 255.0


def test_transform_stores_uint8_and_the_model_standardizes_with_its_stats(transformed):
  graph = tft.TFTransformOutput(transformed[1].uri)
  stats = preprocessing.read_image_stats(graph)
  assert stats["shape"] == [32, 32, 1] and stats["images"] == sum(
    class_weights.label_counts(graph).values()
  )
  files = records.split_files(transformed[0].uri, "train")
  stored = [records.feature(e, IMAGE_XF) for e in records.examples(files)]
  assert max(len(s) for s in stored) <= 1.15 * 32 * 32  # bytes per image, before GZIP
  on_disk = sum(tf.io.gfile.stat(f).length for f in files) / len(stored)
  assert on_disk <= 1.15 * 32 * 32
  pixels = preprocessing.decode_pixels(tf.constant(stored), [32, 32, 1]).numpy()
  np.testing.assert_allclose(stats["mean"], [pixels.mean()], rtol=1e-4)
  np.testing.assert_allclose(stats["std"], [pixels.std()], rtol=1e-4)


def test_shuffle_buffer_holds_a_whole_small_image_set_and_is_bounded_for_large_images():
  assert train.shuffle_buffer([28, 28, 1], 64) >= 70_000  # Fashion-MNIST: a full shuffle
  large = train.shuffle_buffer([224, 224, 3], 64)
  assert 64 <= large and large * 224 * 224 * 3 <= train.SHUFFLE_BYTES  # uint8 pixels
  assert train.shuffle_buffer([1024, 1024, 3], 128) == 128  # never less than a batch


def test_plateau_schedule_is_a_constant_rate_lowered_by_a_callback(transformed):
  fn_args = training.fn_args(*transformed, BASE_CONFIG)
  fn_args.model_run_dir = "/tmp/unused"
  cosine = train._callbacks(fn_args, 100, "train", 8, train.cosine_schedule(1e-3, 8))
  plateau = train._callbacks(fn_args, 100, "train", 8)
  assert [type(c).__name__ for c in cosine][-1] == "LearningRateScheduler"
  (reduce,) = [c for c in plateau if isinstance(c, keras.callbacks.ReduceLROnPlateau)]
  assert (reduce.monitor, reduce.factor, reduce.patience) == ("val_loss", 0.3, 2)
  assert not any(isinstance(c, keras.callbacks.LearningRateScheduler) for c in plateau)
  assert [round(train.cosine_schedule(1e-3, 4)(e, None), 6) for e in range(4)] == [
    0.001,
    0.000854,
    0.0005,
    0.000146,
  ]


def test_the_cache_choice_follows_the_size_of_the_splits():
  images = {"train": 55_000, "eval": 5_000}
  caches, line = cache.choose("auto", images, [28, 28, 1], "/runs/7/cache", budget=6 << 30)
  assert caches == {"train": "memory", "eval": "memory"}
  assert line.startswith("[Trainer] cache: in memory (train 55,000, eval 5,000 images of 28x28x1")
  caches, line = cache.choose("auto", images, [224, 224, 3], "/runs/7/cache", budget=6 << 30)
  assert caches == {"train": "/runs/7/cache/train", "eval": "/runs/7/cache/eval"}
  assert "on disk under /runs/7/cache" in line and "over the memory budget of 6.0 GB" in line
  assert cache.choose("none", images, [8, 8, 1], "/c")[0] == {"train": "none", "eval": "none"}


def test_a_disk_cache_lives_under_the_run_and_is_removed_after_training(
  transformed, tmp_path, capsys
):
  _, model_run = _train(transformed, tmp_path, cache="disk")
  assert f"[Trainer] cache: on disk under {os.path.join(model_run.uri, 'cache')}" in (
    capsys.readouterr().out
  )
  assert not os.path.exists(os.path.join(model_run.uri, "cache"))
  assert _log(model_run)[0]["val_sparse_categorical_accuracy"] > 0.0


@pytest.fixture(scope="module")
def wide_digits(tmp_path_factory):
  """Real 8 x 24 images (three digits side by side), labelled by the middle digit."""
  root = tmp_path_factory.mktemp("wide")
  digits = images.digit_pixels(400)  # enough for every class in both splits
  files = {}
  for i in range(1, len(digits) - 1):
    wide = np.concatenate([digits[i - 1][0], digits[i][0], digits[i + 1][0]], axis=1)
    files[f"{digits[i][1]}/wide_{i:03d}.png"] = images.encode(wide, "png")
  images.write_tree(str(root / "data"), files)
  return str(root)


@pytest.mark.parametrize("mode", ["squash", "crop", "pad"])
def test_resize_is_bit_for_bit_the_same_in_transform_and_in_the_served_model(
  wide_digits, mode, tmp_path
):
  examples = training.ingest(os.path.join(wide_digits, "data"), str(tmp_path))
  transformed, graph = training.transform(
    examples, str(tmp_path), image_size=16, channels=1, resize=mode
  )
  trained, model_run = training.run_trainer(
    transformed, graph, str(tmp_path), {**BASE_CONFIG, "width": 8}
  )
  signatures = training.load(trained).signatures
  for split in ("train", "eval"):
    raw_records = records.serialized(records.split_files(examples.uri, split))
    stored_images = [
      records.feature(e, IMAGE_XF) for e in records.split_examples(transformed.uri, split)
    ]
    served = signatures[train.TRANSFORM_SIGNATURE](examples=tf.constant(raw_records))
    assert list(served[IMAGE_XF].numpy()) == stored_images  # the same bytes, image by image
  pixels = preprocessing.decode_pixels(tf.constant(stored_images[:4]), [16, 16, 1]).numpy()
  wide = [
    tf.train.Example.FromString(r).features.feature["image"].bytes_list.value[0]
    for r in raw_records[:4]
  ]
  if mode == "pad":  # 8 x 24 scaled to 5 x 16 and centred: black above and below
    assert not pixels[:, :5].any() and not pixels[:, 10:].any() and pixels[:, 5:10].any()
  outputs = signatures["serving_default"](image_bytes=tf.constant(wide))
  keras_model = keras.saving.load_model(os.path.join(model_run.uri, train.KERAS_MODEL))
  np.testing.assert_allclose(
    outputs["probabilities"].numpy(), keras_model({IMAGE_XF: pixels}).numpy(), atol=1e-5
  )
  # Beside the SavedModel: the input contract (what a client that decodes images itself must
  # do: here, the same pixels) and the Keras model.
  saved_model_dir = training.serving_model_dir(trained)
  spec = contract.read_contract(saved_model_dir)
  assert (spec["height"], spec["width"], spec["channels"], spec["resize"]) == (16, 16, 1, mode)
  assert spec["normalization"]["in_model"] and len(spec["normalization"]["mean"]) == 1
  np.testing.assert_array_equal(
    preprocessing.decode_images(
      tf.constant(wide), spec["height"], spec["channels"], spec["resize"]
    ).numpy(),
    pixels.astype(np.uint8),
  )
  np.testing.assert_allclose(
    contract.load_keras_model(saved_model_dir)({IMAGE_XF: pixels}),
    outputs["probabilities"].numpy(),
    atol=1e-5,
  )
