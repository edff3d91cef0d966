"""Model builders: build, one real training step on digits, predict; fine-tuning's unfreezing
(the training steps are integration tier)."""

import h5py
import keras
import numpy as np
import pytest
import tensorflow as tf
from keras.src.legacy.saving import legacy_h5_format

from schemas.features import IMAGE_XF
from tests import images
from trainer_module import model as model_lib


def _batch(size, channels, count=32):
  """Real digits as the models take them: float32 pixels, 0-255."""
  pairs = images.digit_pixels(count)
  pixels = np.stack([p for p, _ in pairs]).astype(np.float32)
  resized = tf.image.resize(pixels, [size, size]).numpy()
  if channels == 3:
    resized = np.repeat(resized, 3, axis=-1)
  return {IMAGE_XF: resized}, np.array([d for _, d in pairs])


def _train_step_changes_weights_and_predicts(model, features, labels):
  model_lib.compile_model(model, 1e-3)
  before = [w.copy() for w in model.get_weights()]
  loss = model.train_on_batch(features, labels, return_dict=True)["loss"]
  assert np.isfinite(loss)
  assert any(not np.allclose(a, b) for a, b in zip(before, model.get_weights()))
  probabilities = model.predict(features, verbose=0)
  assert probabilities.shape == (len(labels), 10)
  np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-4)


@pytest.mark.integration  # a training step
@pytest.mark.parametrize("channels", [1, 3])
def test_cnn_trains_and_predicts(channels):
  features, labels = _batch(16, channels)
  model = model_lib.build_model("cnn", 16, channels, 10)
  _train_step_changes_weights_and_predicts(model, features, labels)


def test_cnn_standardizes_each_channel_with_the_given_constants():
  model = model_lib.build_cnn(8, 3, 10, mean=[10.0, 20.0, 30.0], std=[2.0, 4.0, 5.0])
  standardize = model.get_layer("standardize")
  pixels = np.full((1, 8, 8, 3), [12.0, 28.0, 30.0], np.float32)
  np.testing.assert_allclose(standardize(pixels).numpy()[0, 0, 0], [1.0, 2.0, 0.0], atol=1e-5)
  assert model.layers[1] is standardize  # the first layer after the input


def test_imagenet_weights_that_cannot_be_fetched_name_the_file_where_to_put_it_and_none(
  monkeypatch, tmp_path
):
  monkeypatch.setenv("KERAS_HOME", str(tmp_path))  # no cached copy
  monkeypatch.setattr(model_lib.efficientnet, "BASE_WEIGHTS_PATH", "http://127.0.0.1:9/")
  with pytest.raises(model_lib.WeightsUnavailable) as raised:
    model_lib.build_model("efficientnet", 32, 3, 10, variant="b1", weights="imagenet")
  message = str(raised.value)
  assert message.startswith("--weights imagenet (the default for --model efficientnet): ")
  assert f"put it in {tmp_path / 'models' / 'efficientnetb1_notop.h5'} or pass " in message
  assert "--weights /path/to/efficientnetb1_notop.h5" in message
  assert message.endswith("or train from scratch with --weights none")
  assert "\n" not in message


def test_imagenet_weights_already_in_keras_cache_are_used_without_a_network(monkeypatch, tmp_path):
  monkeypatch.setenv("KERAS_HOME", str(tmp_path))
  monkeypatch.setattr(model_lib.mobilenet_v2, "BASE_WEIGHT_PATH", "http://127.0.0.1:9/")
  # MobileNetV2's file at 96 pixels in the layout of Keras' own ImageNet files (legacy HDF5),
  # as someone copied it from a machine with a network.
  source = keras.applications.MobileNetV2(
    include_top=False, weights=None, input_shape=(96, 96, 3), pooling="avg"
  )
  cached = tmp_path / "models" / "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_96_no_top.h5"
  cached.parent.mkdir()
  with h5py.File(cached, "w") as f:
    legacy_h5_format.save_weights_to_hdf5_group(f, source)
  assert model_lib.imagenet_weights("v2", "mobilenet", 96) == str(cached)
  model = model_lib.build_model("mobilenet", 96, 1, 10, weights="imagenet")
  backbone = model.get_layer(model_lib.BACKBONE)
  assert not backbone.trainable  # pretrained: frozen for the head's phase
  for loaded, saved in zip(backbone.get_weights(), source.get_weights()):
    np.testing.assert_array_equal(loaded, saved)


def test_none_builds_from_scratch():
  model = model_lib.build_model("mobilenet", 32, 3, 10, weights="none")
  assert model.get_layer(model_lib.BACKBONE).trainable


@pytest.mark.parametrize(
  "variant,size,file_name",
  [
    ("v2", 32, "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5"),
    ("v2", 128, "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_128_no_top.h5"),
    ("v3small", 32, "weights_mobilenet_v3_small_224_1.0_float_no_top_v2.h5"),
  ],
)
def test_mobilenet_imagenet_weights_name_keras_own_file(
  monkeypatch, tmp_path, variant, size, file_name
):
  monkeypatch.setenv("KERAS_HOME", str(tmp_path))  # no cached copy
  module = model_lib.mobilenet_v2 if variant == "v2" else model_lib.mobilenet_v3
  monkeypatch.setattr(module, "BASE_WEIGHT_PATH", "http://127.0.0.1:9/")
  with pytest.raises(model_lib.WeightsUnavailable, match=f"pass --weights /path/to/{file_name}"):
    model_lib.imagenet_weights(variant, "mobilenet", size)


def test_cnn_width_sets_the_filters_and_dropout_comes_once_before_the_classifier():
  model = model_lib.build_cnn(16, 1, 10, width=8, dropout=0.25)
  convs = [layer.filters for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
  assert convs == [8, 16, 32]
  dropouts = [layer for layer in model.layers if isinstance(layer, keras.layers.Dropout)]
  assert [d.rate for d in dropouts] == [0.25] and model.layers[-2] is dropouts[0]


# B0 is trained, exported and served through the real Trainer in train_test; B1-B3 differ in
# the backbone only: building them, with the right input and output, is what is theirs.
@pytest.mark.parametrize("variant,channels", [("b1", 1), ("b2", 3), ("b3", 1)])
def test_efficientnet_variants_build_for_the_transformed_input(variant, channels):
  model = model_lib.build_model("efficientnet", 32, channels, 10, variant=variant)
  assert model.name == f"efficientnet{variant}"
  assert model.get_layer(model_lib.BACKBONE).name == model_lib.BACKBONE
  assert all(layer.trainable for layer in model.layers)
  assert tuple(model.inputs[0].shape) == (None, 32, 32, channels)
  assert tuple(model.outputs[0].shape) == (None, 10)


@pytest.mark.parametrize(
  "variant,channels,rescaled_inside",
  [("v2", 1, False), ("v3small", 3, True), ("v3large", 1, True)],
)
def test_mobilenet_variants_build_for_the_transformed_input(variant, channels, rescaled_inside):
  model = model_lib.build_model("mobilenet", 32, channels, 10, variant=variant)
  assert model.name == f"mobilenet{variant}"
  backbone = model.get_layer(model_lib.BACKBONE)
  assert all(layer.trainable for layer in model.layers)
  assert tuple(model.inputs[0].shape) == (None, 32, 32, channels)
  assert tuple(model.outputs[0].shape) == (None, 10)
  # 0-255 pixels become [-1, 1] once: V3's own Rescaling, or V2's before its backbone.
  inside = [layer for layer in backbone.layers if isinstance(layer, keras.layers.Rescaling)]
  outside = [layer for layer in model.layers if isinstance(layer, keras.layers.Rescaling)]
  (rescale,) = inside if rescaled_inside else outside
  assert not (outside if rescaled_inside else inside)
  np.testing.assert_allclose(rescale(np.array([0.0, 127.5, 255.0])), [-1.0, 0.0, 1.0], atol=1e-6)


def test_mobilenet_v2_feeds_its_backbone_what_keras_preprocess_input_makes_of_pixels():
  model = model_lib.build_model("mobilenet", 32, 3, 10, variant="v2")
  names = [layer.name for layer in model.layers]
  assert names[1:3] == ["rescale", model_lib.BACKBONE]  # nothing else before the backbone
  pixels = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype(np.float32)
  np.testing.assert_allclose(
    model.get_layer("rescale")(pixels),
    keras.applications.mobilenet_v2.preprocess_input(pixels.copy()),
    atol=1e-6,
  )


# MobileNet's weights file loads, frozen, in tests/mobilenet_e2e_test.py.
@pytest.mark.integration  # training steps
def test_local_weights_load_frozen_then_top_layers_unfreeze_for_fine_tuning(tmp_path):
  source = keras.applications.EfficientNetB0(
    include_top=False, weights=None, input_shape=(32, 32, 3), pooling="avg"
  )
  path = str(tmp_path / "efficientnetb0_notop.weights.h5")
  source.save_weights(path)
  model = model_lib.compile_model(
    model_lib.build_model("efficientnet", 32, 1, 10, weights=path), 1e-3
  )
  backbone = model.get_layer(model_lib.BACKBONE)
  assert not backbone.trainable
  for loaded, saved in zip(backbone.get_weights(), source.get_weights()):
    np.testing.assert_array_equal(loaded, saved)
  features, labels = _batch(32, 1, count=8)
  frozen = [w.copy() for w in backbone.get_weights()]
  model.train_on_batch(features, labels)
  for after, before in zip(backbone.get_weights(), frozen):
    np.testing.assert_array_equal(after, before)

  unfrozen = model_lib.unfreeze_top(model, 12)
  assert 0 < unfrozen <= 12
  top, bottom = backbone.layers[-12:], backbone.layers[:-12]
  assert not any(layer.trainable for layer in bottom)
  assert not any(
    layer.trainable for layer in top if isinstance(layer, keras.layers.BatchNormalization)
  )
  model_lib.compile_model(model, 1e-4)
  before = {id(v): v.numpy().copy() for layer in backbone.layers for v in layer.weights}
  model.train_on_batch(features, labels)
  changed = {
    layer.name
    for layer in backbone.layers
    for v in layer.weights
    if not np.array_equal(before[id(v)], v.numpy())
  }
  assert changed and changed <= {layer.name for layer in top if layer.trainable}


def test_unknown_model_or_variant_is_an_error():
  with pytest.raises(ValueError, match="unknown model"):
    model_lib.build_model("resnet", 32, 3, 10)
  with pytest.raises(ValueError, match="unknown efficientnet variant 'b7'; one of b0, b1"):
    model_lib.build_model("efficientnet", 32, 3, 10, variant="b7")
  with pytest.raises(ValueError, match="unknown mobilenet variant 'b0'; one of v2, v3small"):
    model_lib.build_model("mobilenet", 32, 3, 10, variant="b0")
  with pytest.raises(ValueError, match="mobilenet needs images of 32 pixels or more, got 16"):
    model_lib.build_model("mobilenet", 16, 3, 10)


@pytest.mark.skipif(bool(tf.config.list_logical_devices("GPU")), reason="CPU-only behaviour")
def test_cpu_training_runs_without_xla():
  # XLA made the CNN's CPU steps ~1.7x slower; on GPUs and TPUs Keras decides.
  model = model_lib.compile_model(model_lib.build_cnn(16, 1, 10), 1e-3)
  assert model_lib.use_xla() is False and model.jit_compile is False


def test_one_hot_labels_compile_to_categorical_cross_entropy_keeping_the_accuracy_name():
  smoothed = model_lib.compile_model(
    model_lib.build_cnn(8, 1, 3, width=4), 1e-3, label_smoothing=0.1, one_hot=True, ema=True
  )
  assert isinstance(smoothed.loss, keras.losses.CategoricalCrossentropy)
  assert smoothed.loss.label_smoothing == 0.1 and smoothed.optimizer.use_ema
  (metric,) = smoothed.get_compile_config()["metrics"]
  assert (metric["class_name"], metric["config"]["name"]) == (
    "CategoricalAccuracy",
    "sparse_categorical_accuracy",  # the training log's and the Evaluator's name
  )
  plain = model_lib.compile_model(model_lib.build_cnn(8, 1, 3, width=4), 1e-3)
  assert plain.get_compile_config()["metrics"] == ["sparse_categorical_accuracy"]
  assert plain.loss == "sparse_categorical_crossentropy" and not plain.optimizer.use_ema
  with pytest.raises(ValueError, match="one-hot"):
    model_lib.compile_model(model_lib.build_cnn(8, 1, 3, width=4), 1e-3, label_smoothing=0.1)
