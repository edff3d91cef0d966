"""Trainer's run_fn: fit on Transform's output, export a SavedModel with three signatures.

- serving_default (image_bytes: [batch] encoded images -> classes, scores, probabilities,
  class_names): what TF Serving's REST `{"b64": ...}` and gRPC clients send.
- serving_examples (examples: [batch] serialized tf.Examples): what the Evaluator feeds.
- transform_features (examples): the Transform graph alone, used by TFMA to get label ids.
"""

from typing import Dict

import keras
import tensorflow as tf
import tensorflow_transform as tft
from tfx import v1 as tfx
from tfx_bsl.public import tfxio

from trainer_module.constants import IMAGE_KEY, IMAGE_XF, LABEL_VOCAB, LABEL_XF
from trainer_module.model import build_model

SERVING_EXAMPLES_SIGNATURE = "serving_examples"
TRANSFORM_SIGNATURE = "transform_features"
PREDICTION_KEY = "probabilities"


def input_fn(file_pattern, data_accessor: tfx.components.DataAccessor,
             tf_transform_output: tft.TFTransformOutput, batch_size: int,
             shuffle: bool) -> tf.data.Dataset:
  """One epoch of (features, label id) batches from transformed examples."""
  return data_accessor.tf_dataset_factory(
      file_pattern,
      tfxio.TensorFlowDatasetOptions(batch_size=batch_size, label_key=LABEL_XF, num_epochs=1,
                                     shuffle=shuffle, shuffle_seed=0 if shuffle else None),
      tf_transform_output.transformed_metadata.schema).prefetch(tf.data.AUTOTUNE)


def make_serving_signatures(model: keras.Model,
                            tf_transform_output: tft.TFTransformOutput) -> Dict[str, object]:
  """The exported signatures; all go through the same Transform layer as training did."""
  model.tft_layer = tf_transform_output.transform_features_layer()
  class_names = tf.constant(tf_transform_output.vocabulary_by_name(LABEL_VOCAB))
  raw_spec = tf_transform_output.raw_feature_spec()

  def predict(raw_features):
    transformed = model.tft_layer(raw_features)
    probabilities = model({IMAGE_XF: transformed[IMAGE_XF]})
    top = tf.argmax(probabilities, axis=1)
    return {
        "classes": tf.gather(class_names, top),
        "scores": tf.reduce_max(probabilities, axis=1),
        PREDICTION_KEY: probabilities,
        "class_names": tf.tile(class_names[tf.newaxis], [tf.shape(top)[0], 1]),
    }

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="image_bytes")])
  def serve_image_bytes(image_bytes):
    return predict({IMAGE_KEY: tf.reshape(image_bytes, [-1, 1])})

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
  def serve_examples(serialized):
    return predict(tf.io.parse_example(serialized, {IMAGE_KEY: raw_spec[IMAGE_KEY]}))

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
  def transform_features(serialized):
    return model.tft_layer(tf.io.parse_example(serialized, raw_spec))

  return {
      "serving_default": serve_image_bytes.get_concrete_function(),
      SERVING_EXAMPLES_SIGNATURE: serve_examples.get_concrete_function(),
      TRANSFORM_SIGNATURE: transform_features.get_concrete_function(),
  }


def run_fn(fn_args: tfx.components.FnArgs) -> None:
  """Called by the TFX Trainer."""
  config = fn_args.custom_config
  keras.utils.set_random_seed(int(config.get("seed", 0)))
  tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)
  batch_size = int(config["batch_size"])
  train_data = input_fn(fn_args.train_files, fn_args.data_accessor, tf_transform_output,
                        batch_size, shuffle=True)
  eval_data = input_fn(fn_args.eval_files, fn_args.data_accessor, tf_transform_output,
                       batch_size, shuffle=False)
  model = build_model(config["model"], int(config["image_size"]), int(config["channels"]),
                      tf_transform_output.vocabulary_size_by_name(LABEL_VOCAB),
                      float(config["learning_rate"]), config.get("weights"))
  callbacks = [
      keras.callbacks.TensorBoard(log_dir=fn_args.model_run_dir),
      # Small data makes validation noisy from epoch to epoch: keep the best weights seen, and
      # lower the learning rate when validation loss stalls.
      keras.callbacks.EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True,
                                    verbose=1),
      keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.3, patience=1,
                                        min_lr=1e-5, verbose=1),
  ]
  model.fit(train_data, validation_data=eval_data, epochs=int(config["epochs"]), verbose=2,
            callbacks=callbacks)
  tf.saved_model.save(model, fn_args.serving_model_dir,
                      signatures=make_serving_signatures(model, tf_transform_output))
