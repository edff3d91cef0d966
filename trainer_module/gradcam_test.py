"""Grad-CAM on a model whose only evidence is known: one coloured disc at a random place on
noise, its colour the class; and on EfficientNet, whose feature map is inside its backbone."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from schemas.features import IMAGE_XF
from trainer_module import ensemble, gradcam
from trainer_module.model import (
  BACKBONE,
  build_cnn,
  build_efficientnet,
  build_mobilenet,
  compile_model,
)

COLOURS = np.array([[230, 30, 30], [30, 200, 30], [40, 40, 230]], np.float32)  # red, green, blue
SIZE, RADIUS = 64, 12  # the disc covers 11 % of the image


def discs(count: int, seed: int):
  """(float32 pixels [n, SIZE, SIZE, 3], class ids, bool disc masks [n, SIZE, SIZE]): uniform
  RGB noise with one disc of the class's colour at a random place."""
  rng = np.random.default_rng(seed)
  pixels = np.round(rng.uniform(0, 255, (count, SIZE, SIZE, 3))).astype(np.float32)
  labels = rng.integers(0, len(COLOURS), count)
  centres = rng.uniform(RADIUS, SIZE - RADIUS, (count, 2))
  rows, columns = np.mgrid[:SIZE, :SIZE]
  masks = (
    (rows[None] - centres[:, :1, None]) ** 2 + (columns[None] - centres[:, 1:, None]) ** 2
  ) <= RADIUS**2
  for image, label, mask in zip(pixels, labels, masks):
    image[mask] = COLOURS[label]
  return pixels, labels, masks


def mass_inside(heatmaps: np.ndarray, masks: np.ndarray) -> np.ndarray:
  """Each heatmap's share of its total inside the mask."""
  return (heatmaps * masks).sum(axis=(1, 2)) / heatmaps.sum(axis=(1, 2))


@pytest.fixture(scope="module")
def disc_cnn():
  keras.utils.set_random_seed(0)
  pixels, labels, _ = discs(600, seed=0)
  model = compile_model(build_cnn(SIZE, 3, len(COLOURS), width=16), 3e-3)
  model.fit({IMAGE_XF: pixels}, labels, batch_size=32, epochs=6, verbose=0)
  return model


@pytest.mark.integration
def test_cnn_heatmaps_put_most_of_their_mass_inside_the_disc(disc_cnn):
  pixels, labels, masks = discs(60, seed=1)
  cam = gradcam.GradCam(disc_cnn)
  heatmaps, probabilities = cam(pixels)
  assert np.mean(probabilities.argmax(axis=1) == labels) >= 0.95  # it learned the colours
  np.testing.assert_allclose(
    probabilities, disc_cnn.predict({IMAGE_XF: pixels}, verbose=0), atol=1e-5
  )
  assert heatmaps.shape == (60, SIZE, SIZE) and heatmaps.min() >= 0 and heatmaps.max() <= 1
  inside = mass_inside(heatmaps, masks)
  assert np.median(inside) > 0.55, np.median(inside)  # the disc is 11 % of the image
  assert np.all(inside > 3 * masks.mean(axis=(1, 2))), inside
  # The peak of each heatmap lies in its disc.
  peaks = heatmaps.reshape(60, -1).argmax(axis=1)
  assert np.mean(masks.reshape(60, -1)[np.arange(60), peaks]) >= 0.95


def test_the_target_is_the_last_convolutional_activation_not_the_pooling():
  cnn = build_cnn(32, 3, 4, width=8)
  path, layer = gradcam.find_target(cnn)
  assert path == [cnn] and isinstance(layer, keras.layers.ReLU)
  assert cnn.layers[cnn.layers.index(layer) + 1].__class__.__name__ == ("AdaptiveAveragePooling2D")
  assert gradcam.GradCam(cnn).layer_name == layer.name  # a single model's: the layer alone
  efficientnet = build_efficientnet(32, 1, 3)
  path, layer = gradcam.find_target(efficientnet)
  assert [m.name for m in path] == [efficientnet.name, BACKBONE]
  assert layer.name == "top_activation"
  # MobileNet: the activation after the backbone's last 1x1 convolution, 1/32 of the image.
  for variant in ("v2", "v3small"):
    mobilenet = build_mobilenet(64, 1, 3, variant)
    path, layer = gradcam.find_target(mobilenet)
    assert [m.name for m in path] == [mobilenet.name, BACKBONE]
    backbone = path[-1]
    before = backbone.layers[backbone.layers.index(layer) - 1]
    assert isinstance(before, keras.layers.BatchNormalization) and before.name.startswith(
      ("Conv_1", "conv_1")
    )
    assert tuple(layer.output.shape[1:3]) == (2, 2)
  # An ensemble: the last member's last activation, named with the member that holds it; the
  # score is the ensemble's own output (the members' mean), not the member's.
  members = [build_cnn(32, 3, 4, width=8), build_cnn(32, 3, 4, width=8)]
  averaged = ensemble.combine(members)
  cam = gradcam.GradCam(averaged)
  assert cam.layer_name.startswith("member_2/re_lu")
  pixels = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype(np.float32)
  _, probabilities = cam(pixels)
  np.testing.assert_allclose(probabilities, averaged({IMAGE_XF: pixels}), atol=1e-5)
  dense = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
  assert gradcam.find_target(dense) is None
  with pytest.raises(ValueError, match="no convolutional layer"):
    gradcam.GradCam(dense)


def test_efficientnet_heatmaps_equal_grad_cam_computed_inside_its_backbone_by_hand():
  keras.utils.set_random_seed(1)
  model = build_efficientnet(64, 1, 3)
  pixels = np.random.default_rng(2).uniform(0, 255, (4, 64, 64, 1)).astype(np.float32)
  heatmaps, probabilities = gradcam.GradCam(model)(pixels, class_ids=[0, 1, 2, 1])

  # By hand: a model over the backbone's own graph gives the feature map and the pooled
  # features; grey is repeated to RGB before it, the softmax layer's logits after it.
  backbone = model.get_layer(BACKBONE)
  inner = keras.Model(
    backbone.inputs, [backbone.get_layer("top_activation").output, backbone.output]
  )
  head = model.layers[-1]
  with tf.GradientTape() as tape:
    feature_map, pooled = inner(tf.repeat(tf.constant(pixels), 3, axis=-1), training=False)
    logits = tf.matmul(pooled, head.kernel) + head.bias
    score = tf.reduce_sum(tf.gather(logits, [0, 1, 2, 1], axis=1, batch_dims=1))
  weights = tf.reduce_mean(tape.gradient(score, feature_map), axis=[1, 2], keepdims=True)
  cam = tf.nn.relu(tf.reduce_sum(weights * feature_map, axis=-1))[..., tf.newaxis]
  expected = tf.image.resize(cam, [64, 64])[..., 0].numpy()
  peak = expected.max(axis=(1, 2), keepdims=True)
  expected = np.divide(expected, peak, out=np.zeros_like(expected), where=peak > 0)
  assert (peak > 0).any()
  np.testing.assert_allclose(heatmaps, expected, atol=1e-4)
  np.testing.assert_allclose(probabilities, model({IMAGE_XF: pixels}, training=False), atol=1e-5)


def test_overlay_is_rgb_and_red_where_the_evidence_is():
  grey = np.full((8, 8, 1), 128, np.uint8)
  heatmap = np.zeros((8, 8))
  heatmap[2, 3] = 1.0
  shown = gradcam.overlay(grey, heatmap)
  assert shown.shape == (8, 8, 3) and shown.dtype == np.uint8
  assert shown[2, 3, 0] > shown[2, 3, 2] and shown[0, 0, 2] > shown[0, 0, 0]


def test_a_feature_map_smaller_than_4x4_is_skipped_with_its_reason():
  # The default CNN pools 32 pixels twice: an 8x8 map. EfficientNet's is 1/32 of the image.
  assert gradcam.GradCam(build_cnn(32, 1, 3, width=8)).map_size == (8, 8)
  assert gradcam.GradCam(build_cnn(16, 1, 3, width=8)).skip_reason() is None  # 4x4: shown
  coarse = gradcam.GradCam(build_efficientnet(64, 1, 3))
  assert coarse.map_size == (2, 2)
  assert coarse.skip_reason() == (
    f"Grad-CAM skipped: the last convolutional feature map ({BACKBONE}/top_activation) is "
    "2x2, smaller than 4x4 (a heatmap of 4 uniform cells); a larger --image-size gives a "
    "finer one"
  )
  assert "1x1" in gradcam.GradCam(build_efficientnet(32, 1, 3)).skip_reason()
