"""What the Trainer saves: the Keras model in the model run, and the SavedModel for TF Serving
with the input contract, class names and an uncompiled Keras model beside it.

The exported SavedModel has five signatures:
- serving_default (image_bytes: [batch] encoded images -> classes, scores, probabilities,
  class_names): what TF Serving's REST `{"b64": ...}` and gRPC clients send.
- serving_pixels (pixels: uint8 [batch, height, width, channels], decoded and resized as
  input.json says -> serving_default's outputs): for servers that decode images themselves.
- serving_examples (examples: [batch] serialized tf.Examples): what the Evaluator feeds.
- bulk_inference (examples): serving_examples' probabilities and class_names only, what TFX's
  BulkInferrer runs (from a TF1 session: see save).
- transform_features (examples): the Transform graph alone, used by TFMA to get label ids.
"""

import os
from typing import Dict, Optional

import keras
import numpy as np
import tensorflow as tf
import tensorflow_transform as tft

from schemas import filenames
from schemas.features import (
  BULK_INFERENCE_SIGNATURE,
  IMAGE_KEY,
  IMAGE_XF,
  LABEL_VOCAB,
  PIXELS_INPUT,
  PREDICTION_KEY,
  SERVING_EXAMPLES_SIGNATURE,
  SERVING_INPUT,
  SERVING_PIXELS_SIGNATURE,
  TRANSFORM_SIGNATURE,
)
from trainer_module import contract, ensemble, labels, preprocessing
from trainer_module.config import TrainingConfig
from trainer_module.datasets import image_shape


def make_serving_signatures(
  model: keras.Model, tf_transform_output: tft.TFTransformOutput
) -> Dict[str, object]:
  """The exported signatures; all go through the same Transform layer as training did."""
  model.tft_layer = tf_transform_output.transform_features_layer()
  class_names = tf.constant(tf_transform_output.vocabulary_by_name(LABEL_VOCAB))
  raw_spec = tf_transform_output.raw_feature_spec()

  shape = image_shape(tf_transform_output)

  def answer(pixels):
    """serving_default's outputs for float32 pixels [batch, height, width, channels]."""
    probabilities = tf.cast(model({IMAGE_XF: pixels}), tf.float32)
    top = tf.argmax(probabilities, axis=1)
    return {
      "classes": tf.gather(class_names, top),
      "scores": tf.reduce_max(probabilities, axis=1),
      PREDICTION_KEY: probabilities,
      "class_names": tf.tile(class_names[tf.newaxis], [tf.shape(top)[0], 1]),
    }

  def predict(raw_features):
    transformed = model.tft_layer(raw_features)
    return answer(preprocessing.decode_pixels(transformed[IMAGE_XF], shape))

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=SERVING_INPUT)])
  def serve_image_bytes(image_bytes):
    return predict({IMAGE_KEY: tf.reshape(image_bytes, [-1, 1])})

  @tf.function(input_signature=[tf.TensorSpec([None, *shape], tf.uint8, name=PIXELS_INPUT)])
  def serve_pixels(pixels):
    return answer(tf.cast(pixels, tf.float32))

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
  def serve_examples(serialized):
    return predict(tf.io.parse_example(serialized, {IMAGE_KEY: raw_spec[IMAGE_KEY]}))

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
  def bulk_inference(serialized):
    outputs = predict(tf.io.parse_example(serialized, {IMAGE_KEY: raw_spec[IMAGE_KEY]}))
    return {key: outputs[key] for key in (PREDICTION_KEY, "class_names")}

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
  def transform_features(serialized):
    return model.tft_layer(tf.io.parse_example(serialized, raw_spec))

  return {
    "serving_default": serve_image_bytes.get_concrete_function(),
    SERVING_PIXELS_SIGNATURE: serve_pixels.get_concrete_function(),
    SERVING_EXAMPLES_SIGNATURE: serve_examples.get_concrete_function(),
    BULK_INFERENCE_SIGNATURE: bulk_inference.get_concrete_function(),
    TRANSFORM_SIGNATURE: transform_features.get_concrete_function(),
  }


def standardization(model: keras.Model) -> Optional[tuple]:
  """(mean, std) per channel of the model's own standardization layer (a warm-started model
  keeps its base's), or None for a model without one."""
  layer = next((x for x in model.layers if isinstance(x, keras.layers.Normalization)), None)
  if layer is None:
    return None
  mean = np.ravel(keras.ops.convert_to_numpy(layer.mean)).tolist()
  variance = np.ravel(keras.ops.convert_to_numpy(layer.variance))
  return mean, np.sqrt(variance).tolist()


def write_extras(
  model: keras.Model,
  saved_model_dir: str,
  config: TrainingConfig,
  tf_transform_output: tft.TFTransformOutput,
) -> None:
  """The input contract and the Keras model beside the SavedModel (trainer_module/contract.py),
  for clients that decode images themselves: TFLite, predict, Grad-CAM."""
  stats = preprocessing.read_image_stats(tf_transform_output)
  mean, std = standardization(model) or (stats["mean"], stats["std"])
  architectures = {member.model for member in ensemble.members(config)}
  kind = architectures.pop() if len(architectures) == 1 else ensemble.NAME
  contract.write_contract(
    saved_model_dir,
    contract.input_contract(
      stats["shape"], stats["resize"], kind, mean, std, config.variant_of(kind)
    ),
  )
  # The same layers and weights, uncompiled: no optimizer state (a third of the size with Adam).
  keras.Model(model.input, model.output, name=model.name).save(
    os.path.join(saved_model_dir, filenames.MODEL_KERAS)
  )


def save(
  model: keras.Model,
  model_run_dir: str,
  serving_model_dir: str,
  config: TrainingConfig,
  tf_transform_output: tft.TFTransformOutput,
) -> None:
  """The Keras model in the model run; the SavedModel with its signatures, class names and
  extras in the serving model dir."""
  model.save(os.path.join(model_run_dir, filenames.KERAS_MODEL))
  # TFX's BulkInferrer (tfx_bsl's RunInference) loads the SavedModel into a TF1 session, whose
  # restore finds only tf.Variables the checkpoint tracks; Keras 3 tracks its own variable
  # wrappers, so the TensorFlow variables behind them are tracked too (else "Could not find
  # variable dense/bias"; tensorflow/tfx#7782).
  model.tf_variables = [v.value for v in model.variables]
  tf.saved_model.save(
    model, serving_model_dir, signatures=make_serving_signatures(model, tf_transform_output)
  )
  labels.write_class_names(serving_model_dir, labels.from_transform(tf_transform_output))
  write_extras(model, serving_model_dir, config, tf_transform_output)
