"""The exported model: its Transform signature gives Transform's very bytes, and the input
contract and Keras model beside it give clients the served model's answers."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from schemas import filenames
from schemas.features import BULK_INFERENCE_SIGNATURE, IMAGE_XF, TRANSFORM_SIGNATURE
from tests import images, records, training
from tests.training import BASE_CONFIG
from trainer_module import contract, preprocessing

pytestmark = pytest.mark.integration  # Beam, TFX executors, training or subprocesses


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
    served = signatures[TRANSFORM_SIGNATURE](examples=tf.constant(raw_records))
    assert list(served[IMAGE_XF].numpy()) == stored_images  # the same bytes, image by image
  pixels = preprocessing.decode_pixels(tf.constant(stored_images[:4]), [16, 16, 1]).numpy()
  wide = [
    tf.train.Example.FromString(r).features.feature["image"].bytes_list.value[0]
    for r in raw_records[:4]
  ]
  if mode == "pad":  # 8 x 24 scaled to 5 x 16 and centred: black above and below
    assert not pixels[:, :5].any() and not pixels[:, 10:].any() and pixels[:, 5:10].any()
  outputs = signatures["serving_default"](image_bytes=tf.constant(wide))
  keras_model = keras.saving.load_model(os.path.join(model_run.uri, filenames.KERAS_MODEL))
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
  # bulk_inference in a TF1 session, as TFX's BulkInferrer (tfx_bsl RunInference) loads it.
  with tf.compat.v1.Session(graph=tf.compat.v1.Graph()) as session:
    meta_graph = tf.compat.v1.saved_model.loader.load(session, ["serve"], saved_model_dir)
    signature = meta_graph.signature_def[BULK_INFERENCE_SIGNATURE]
    (examples_input,) = signature.inputs.values()
    in_session = session.run(
      signature.outputs["probabilities"].name, {examples_input.name: raw_records[:4]}
    )
  np.testing.assert_allclose(in_session, outputs["probabilities"].numpy(), atol=1e-5)
