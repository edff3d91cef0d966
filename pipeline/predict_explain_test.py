"""predict --explain's images: the image beside its Grad-CAM overlay, a caption below; skipped
with its reason for a feature map smaller than 4x4. (On a trained model and real digits, the
heatmaps recomputed: pipeline/predict_test.py.)"""

import os

import numpy as np
from PIL import Image

from pipeline import predict_explain
from tests import images, training
from trainer_module import contract
from trainer_module.model import build_cnn, build_efficientnet

NAMES = [str(d) for d in range(10)]


def test_the_caption_names_the_predicted_class_its_score_and_the_true_class_when_known():
  assert predict_explain.caption("7", 0.934) == "predicted 7 (0.93)"
  assert predict_explain.caption("7", 0.934, "1") == "predicted 7 (0.93), true 1"
  assert predict_explain.caption("a\nb", 0.5) == "predicted a b (0.50)"  # one line
  assert predict_explain.true_class("photos/7/x.png", NAMES) == "7"  # a class folder
  assert predict_explain.true_class("photos/x.png", NAMES) is None


def test_the_image_stays_visible_beside_its_overlay():
  pixels = images.digit_pixels(1)[0][0]  # 8 x 8 grey
  heatmap = np.zeros((8, 8))
  heatmap[2:4, 2:4] = 1.0
  shown = predict_explain.compose(pixels, heatmap, "predicted 0 (0.99), true 0")
  side, gap = 256, predict_explain.GAP
  assert shown.shape == (side + predict_explain.FONT_SIZE + 12, 2 * side + gap, 3)
  left = shown[:side, :side]
  np.testing.assert_array_equal(left[::32, ::32, 0], pixels[..., 0])  # the image, scaled up
  np.testing.assert_array_equal(left[..., 0], left[..., 2])  # grey, uncoloured
  right = shown[:side, side + gap :]
  assert right[2 * 32, 2 * 32, 0] > right[2 * 32, 2 * 32, 2]  # red where the evidence is
  assert np.all(shown[:side, side : side + gap] == 255)  # the panels apart
  caption = shown[side:]
  assert (caption < 100).any() and (caption == 255).mean() > 0.5  # dark text on white


def _version(root, model, size):
  spec = contract.input_contract([size, size, 1], "squash", "cnn", [0.0], [1.0])
  return training.keep_beside(str(root), model, spec, NAMES)


def test_explained_images_are_written_one_per_image_with_names_kept_apart(tmp_path):
  version = _version(tmp_path / "version", build_cnn(16, 1, 10, width=4), 16)  # a 4x4 map
  files = images.digit_files({1: 2, 7: 1})
  images.write_tree(str(tmp_path / "in"), files)
  paths = [str(tmp_path / "in" / n) for n in files]
  paths.append(paths[0])  # the same name twice (as from two folders): two images
  data = [open(p, "rb").read() for p in paths]
  written, skipped = predict_explain.write(
    version, paths, data, [1, 1, 7, 1], [0.5, 0.6, 0.7, 0.5], NAMES, str(tmp_path / "out")
  )
  assert skipped is None and len(set(written)) == 4
  stem = os.path.splitext(os.path.basename(paths[0]))[0]
  assert [os.path.basename(w) for w in (written[0], written[3])] == [
    f"{stem}_gradcam.png",
    f"{stem}_2_gradcam.png",
  ]
  assert sorted(os.listdir(tmp_path / "out")) == sorted(os.path.basename(w) for w in written)
  side = 16 * 16
  assert Image.open(written[0]).size == (2 * side + predict_explain.GAP, side + 16 + 12)


def test_a_feature_map_smaller_than_4x4_is_skipped_with_its_reason(tmp_path):
  version = _version(tmp_path / "version", build_efficientnet(32, 1, 10), 32)  # 1x1
  data = [images.encode(images.digit_pixels(1)[0][0], "png")]
  written, skipped = predict_explain.write(
    version, ["a.png"], data, [0], [0.5], NAMES, str(tmp_path / "out")
  )
  assert written == [] and not os.path.exists(tmp_path / "out")
  assert skipped.startswith("Grad-CAM skipped: the last convolutional feature map") and (
    "is 1x1, smaller than 4x4" in skipped
  )
