"""preprocessing_fn run by tf.Transform's Beam implementation on real encoded digits."""

import io

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from PIL import Image
from tensorflow_transform.tf_metadata import dataset_metadata, schema_utils

from schemas.features import IMAGE_XF, LABEL_VOCAB, LABEL_XF
from tests import images, records
from trainer_module import class_weights, preprocessing

pytestmark = pytest.mark.integration  # Beam, TFX executors, training or subprocesses

RAW_SPEC = {
  "image": tf.io.FixedLenFeature([1], tf.string),
  "label": tf.io.FixedLenFeature([1], tf.string),
}


def _analyze_and_transform(raw, image_size, channels, tmp_path):
  metadata = dataset_metadata.DatasetMetadata(schema_utils.schema_from_feature_spec(RAW_SPEC))
  config = {"image_size": image_size, "channels": channels}
  with tft_beam.Context(temp_dir=str(tmp_path / "tmp"), force_tf_compat_v1=False):
    (transformed, _), transform_fn = (raw, metadata) | tft_beam.AnalyzeAndTransformDataset(
      lambda inputs: preprocessing.preprocessing_fn(inputs, config)
    )
    _ = transform_fn | tft_beam.WriteTransformFn(str(tmp_path / "transform_fn"))
  return transformed, tft.TFTransformOutput(str(tmp_path / "transform_fn"))


@pytest.fixture(scope="module")
def digits():
  return images.digit_pixels(30)


def _pixels(row, shape):
  """Transform's stored image: uint8 pixels of the given shape."""
  stored = row[IMAGE_XF]
  return preprocessing.decode_pixels(tf.constant([stored]), shape).numpy()[0].astype(np.uint8)


def test_png_and_jpeg_become_compact_fixed_size_uint8_images(digits, tmp_path):
  raw = [
    {"image": [images.encode(p, "jpeg" if i % 2 else "png")], "label": [str(d).encode()]}
    for i, (p, d) in enumerate(digits)
  ]
  transformed, output = _analyze_and_transform(raw, 24, 3, tmp_path)
  assert len(transformed) == len(raw)
  assert output.transformed_feature_spec()[IMAGE_XF].dtype == tf.string
  for row in transformed:
    assert len(row[IMAGE_XF]) <= 1.15 * 24 * 24 * 3  # uint8 pixels and a small header
    image = _pixels(row, [24, 24, 3])
    assert image.max() > 128  # digits have bright strokes
    np.testing.assert_array_equal(image[..., 0], image[..., 2])  # grayscale expanded to 3


def test_pixels_are_kept_exactly_at_native_size(digits, tmp_path):
  pixels, digit = digits[0]
  transformed, _ = _analyze_and_transform(
    [{"image": [images.encode(pixels, "png")], "label": [str(digit).encode()]}], 8, 1, tmp_path
  )
  np.testing.assert_array_equal(_pixels(transformed[0], [8, 8, 1]), pixels)


def test_colour_alpha_16_bit_and_webp_inputs_convert_to_the_configured_channels(digits, tmp_path):
  gray = digits[0][0]
  rgba = np.concatenate([gray, gray // 2, gray // 3, np.full_like(gray, 255)], axis=-1)
  rgb16 = np.concatenate([gray] * 3, axis=-1).astype(np.uint16) * 257
  webp = io.BytesIO()
  Image.fromarray(gray[..., 0]).save(webp, "WEBP", lossless=True)
  raw = [
    {"image": [tf.io.encode_png(rgba).numpy()], "label": [b"a"]},
    {"image": [tf.io.encode_png(rgb16).numpy()], "label": [b"b"]},
    {"image": [webp.getvalue()], "label": [b"c"]},
  ]
  transformed, output = _analyze_and_transform(raw, 8, 1, tmp_path)
  by_label = {
    output.vocabulary_by_name(LABEL_VOCAB)[int(row[LABEL_XF])]: _pixels(row, [8, 8, 1])
    for row in transformed
  }
  assert by_label[b"a"].shape == (8, 8, 1)
  # 16-bit input is scaled by its own depth: full white stays 255, not 257 x 255.
  np.testing.assert_allclose(by_label[b"b"][..., 0], gray[..., 0], atol=1)
  np.testing.assert_array_equal(by_label[b"c"], gray)  # lossless WebP decodes exactly


def test_image_stats_are_the_training_pixels_per_channel_mean_and_std(digits, tmp_path):
  raw = [{"image": [images.encode(p, "png")], "label": [str(d).encode()]} for p, d in digits]
  transformed, output = _analyze_and_transform(raw, 8, 1, tmp_path)
  stats = preprocessing.read_image_stats(output)
  pixels = np.stack([p for p, _ in digits]).astype(np.float64)  # native size: unchanged
  assert stats["shape"] == [8, 8, 1] and stats["images"] == len(digits)
  assert stats["resize"] == "squash"  # the default, recorded for the served model's contract
  np.testing.assert_allclose(stats["mean"], [pixels.mean()], rtol=1e-6)
  np.testing.assert_allclose(stats["std"], [pixels.std()], rtol=1e-6)


def test_resize_modes_squash_crop_and_pad(digits, tmp_path):
  # A real 8 x 16 image: two digits side by side.
  wide = np.concatenate([digits[0][0], digits[1][0]], axis=1)
  data = tf.constant([images.encode(wide, "png")])
  squashed = preprocessing.decode_images(data, 8, 1, "squash").numpy()[0]
  cropped = preprocessing.decode_images(data, 8, 1, "crop").numpy()[0]
  padded = preprocessing.decode_images(data, 16, 1, "pad").numpy()[0]
  assert squashed.shape == cropped.shape == (8, 8, 1)
  np.testing.assert_array_equal(cropped, wide[:, 4:12])  # the centre square, at its own size
  np.testing.assert_array_equal(padded[4:12], wide)  # scale 1 fits the width ...
  assert not padded[:4].any() and not padded[12:].any()  # ... and zeros fill the square
  assert not np.array_equal(squashed, cropped)
  with pytest.raises(ValueError, match="resize mode must be one of squash, crop, pad"):
    preprocessing.decode_images(data, 8, 1, "stretch")


def test_class_ids_are_the_names_sorted_whatever_the_frequencies(digits, tmp_path):
  # The rarest class first and the most frequent last, then the other way round: TFT's
  # frequency-ordered vocabulary would swap the ids between the two runs.
  names = {0: "zebra", 1: "ant", 2: "Moth", 3: "émeu"}
  raw = [{"image": [images.encode(p, "png")], "label": [names[d % 4].encode()]} for p, d in digits]
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


def test_transform_stores_uint8_and_the_model_standardizes_with_its_stats(digits_transformed):
  graph = tft.TFTransformOutput(digits_transformed[1].uri)
  stats = preprocessing.read_image_stats(graph)
  assert stats["shape"] == [32, 32, 1] and stats["images"] == sum(
    class_weights.label_counts(graph).values()
  )
  files = records.split_files(digits_transformed[0].uri, "train")
  stored = [records.feature(e, IMAGE_XF) for e in records.examples(files)]
  assert max(len(s) for s in stored) <= 1.15 * 32 * 32  # bytes per image, before GZIP
  on_disk = sum(tf.io.gfile.stat(f).length for f in files) / len(stored)
  assert on_disk <= 1.15 * 32 * 32
  pixels = preprocessing.decode_pixels(tf.constant(stored), [32, 32, 1]).numpy()
  np.testing.assert_allclose(stats["mean"], [pixels.mean()], rtol=1e-4)
  np.testing.assert_allclose(stats["std"], [pixels.std()], rtol=1e-4)
