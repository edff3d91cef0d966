"""preprocessing_fn run by tf.Transform's Beam implementation on real encoded digits."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from tensorflow_transform.tf_metadata import dataset_metadata, schema_utils

from tests import images
from trainer_module import preprocessing
from trainer_module.constants import IMAGE_XF, LABEL_VOCAB, LABEL_XF

RAW_SPEC = {"image": tf.io.FixedLenFeature([1], tf.string),
            "label": tf.io.FixedLenFeature([1], tf.string)}


def _analyze_and_transform(raw, image_size, channels, tmp_path):
  metadata = dataset_metadata.DatasetMetadata(schema_utils.schema_from_feature_spec(RAW_SPEC))
  config = {"image_size": image_size, "channels": channels}
  with tft_beam.Context(temp_dir=str(tmp_path / "tmp"), force_tf_compat_v1=False):
    (transformed, _), transform_fn = (
        (raw, metadata)
        | tft_beam.AnalyzeAndTransformDataset(
            lambda inputs: preprocessing.preprocessing_fn(inputs, config)))
    _ = transform_fn | tft_beam.WriteTransformFn(str(tmp_path / "transform_fn"))
  return transformed, tft.TFTransformOutput(str(tmp_path / "transform_fn"))


@pytest.fixture(scope="module")
def digits():
  return images.digit_pixels(30)


def test_png_and_jpeg_become_fixed_size_images_in_unit_range(digits, tmp_path):
  raw = [{"image": [images.encode(p, "jpeg" if i % 2 else "png")], "label": [str(d).encode()]}
         for i, (p, d) in enumerate(digits)]
  transformed, _ = _analyze_and_transform(raw, 24, 3, tmp_path)
  assert len(transformed) == len(raw)
  for row in transformed:
    image = np.asarray(row[IMAGE_XF])
    assert image.shape == (24, 24, 3)
    assert image.min() >= 0.0 and image.max() <= 1.0
    assert image.max() > 0.5  # digits have bright strokes
    np.testing.assert_allclose(image[..., 0], image[..., 2])  # grayscale expanded to 3 channels


def test_pixels_are_scaled_not_altered_at_native_size(digits, tmp_path):
  pixels, digit = digits[0]
  transformed, _ = _analyze_and_transform(
      [{"image": [images.encode(pixels, "png")], "label": [str(digit).encode()]}], 8, 1, tmp_path)
  np.testing.assert_allclose(np.asarray(transformed[0][IMAGE_XF]), pixels / 255.0, atol=1e-6)


def test_colour_and_alpha_inputs_convert_to_the_configured_channels(digits, tmp_path):
  gray = digits[0][0]
  rgba = np.concatenate([gray, gray // 2, gray // 3, np.full_like(gray, 255)], axis=-1)
  rgb16 = (np.concatenate([gray] * 3, axis=-1).astype(np.uint16) * 257)
  raw = [{"image": [tf.io.encode_png(rgba).numpy()], "label": [b"a"]},
         {"image": [tf.io.encode_png(rgb16).numpy()], "label": [b"b"]}]
  transformed, output = _analyze_and_transform(raw, 8, 1, tmp_path)
  by_label = {output.vocabulary_by_name(LABEL_VOCAB)[int(row[LABEL_XF])]: np.asarray(row[IMAGE_XF])
              for row in transformed}
  for image in by_label.values():
    assert image.shape == (8, 8, 1)
    assert 0.0 <= image.min() and image.max() <= 1.0
  # 16-bit input is scaled by its own depth: full white is 1.0, not 257.
  np.testing.assert_allclose(by_label[b"b"][..., 0], gray[..., 0] / 255.0, atol=1e-3)


def test_class_ids_are_the_names_sorted_whatever_the_frequencies(digits, tmp_path):
  # The rarest class first and the most frequent last, then the other way round: TFT's
  # frequency-ordered vocabulary would swap the ids between the two runs.
  names = {0: "zebra", 1: "ant", 2: "Moth", 3: "émeu"}
  raw = [{"image": [images.encode(p, "png")], "label": [names[d % 4].encode()]}
         for p, d in digits]
  counts = {name: sum(r["label"][0] == name.encode() for r in raw) for name in names.values()}
  assert len(set(counts.values())) > 1  # the frequencies differ
  rarest = min(counts, key=counts.get)
  skewed = raw + [r for r in raw if r["label"][0] == rarest.encode()] * 5
  for data, work in ((raw, tmp_path / "a"), (skewed, tmp_path / "b")):
    transformed, output = _analyze_and_transform(data, 8, 1, work)
    vocabulary = [v.decode() for v in output.vocabulary_by_name(LABEL_VOCAB)]
    assert vocabulary == ["Moth", "ant", "zebra", "émeu"]  # code point order, as sorted()
    assert vocabulary == sorted(names.values())
    mapped = [vocabulary[int(row[LABEL_XF])] for row in transformed]
    assert mapped == [source["label"][0].decode() for source in data]
