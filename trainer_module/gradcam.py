"""Grad-CAM (Selvaraju et al., 2017): where in an image the model found its evidence for a class.

The gradient of the class's score (its logit, the input of the final softmax) with respect to
the last convolutional feature map, averaged over the map's positions, weighs the map's
channels; their positive weighted sum, scaled up to the image, is the heatmap (0-1).

The feature map is found automatically: the last 4-D output at or after the last convolution,
pooling layers excluded, looked for inside nested models too: the ReLU of the CNN's last block,
`top_activation` inside EfficientNet's backbone (1/32 of the image size: 7 x 7 at 224 pixels).
"""

from typing import List, Optional, Sequence, Tuple

import keras
import numpy as np
import tensorflow as tf

CONVOLUTIONS = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.SeparableConv2D)
MIN_MAP_SIDE = 4  # a coarser feature map gives a heatmap of a few uniform cells: not shown


def _is_feature_map(layer: keras.layers.Layer) -> bool:
  if "Pooling" in type(layer).__name__ or isinstance(layer, keras.layers.InputLayer):
    return False
  try:
    return len(layer.output.shape) == 4
  except (AttributeError, ValueError):  # a layer called more than once, or never
    return False


def find_target(model: keras.Model) -> Optional[Tuple[List[keras.Model], keras.layers.Layer]]:
  """(the nested models from `model` down to the one that holds the layer, the layer), or None
  for a model without convolutions."""
  candidate = None
  for layer in reversed(model.layers):
    if isinstance(layer, keras.Model):
      inner = find_target(layer)
      if inner:
        return ([model], candidate) if candidate else ([model] + inner[0], inner[1])
      continue
    if candidate is None and _is_feature_map(layer):
      candidate = layer
    if isinstance(layer, CONVOLUTIONS):
      return [model], candidate
  return None


def _softmax_head(model: keras.Model) -> Optional[keras.layers.Dense]:
  """The final Dense layer when it applies the softmax itself (its input gives the logits)."""
  last = model.layers[-1]
  if isinstance(last, keras.layers.Dense) and last.activation is keras.activations.softmax:
    return last
  return None


def _tap(
  path: List[keras.Model], target: keras.layers.Layer, head: Optional[keras.layers.Layer] = None
) -> keras.Model:
  """path[0]'s graph, with its own layers and weights, as a model of the same inputs that
  returns [the target's feature map, the head's input (or the model's output)]."""
  model, nested = path[0], path[1] if len(path) > 1 else None
  inner = _tap(path[1:], target) if nested else None
  captured = {}

  def call(layer, *args, **kwargs):
    if layer is nested:
      captured["map"], out = inner(*args, **kwargs)
      return out
    if layer is head:
      captured["head"] = args[0]
    out = layer(*args, **kwargs)
    if layer is target:
      captured["map"] = out
    return out

  clone = keras.models.clone_model(model, clone_function=lambda layer: layer, call_function=call)
  return keras.Model(clone.inputs, [captured["map"], captured.get("head", clone.output)])


class GradCam:
  """Heatmaps of a Keras image classifier ({input: float32 [size, size, channels] 0-255})."""

  def __init__(self, model: keras.Model):
    found = find_target(model)
    if not found:
      raise ValueError(f"model {model.name!r} has no convolutional layer for Grad-CAM")
    path, self.layer = found
    self._path = path
    self.head = _softmax_head(model)
    if len(model.inputs) != 1:
      raise ValueError(f"model {model.name!r} takes {len(model.inputs)} inputs, expected one image")
    self._input_name = model.inputs[0].name
    self._model = _tap(path, self.layer, self.head)

  @property
  def layer_name(self) -> str:
    """The feature map's layer, with the nested models that hold it (an ensemble's heatmap is
    the ensemble's score on one member's feature map: "member_2/re_lu_3")."""
    return "/".join([m.name for m in self._path[1:]] + [self.layer.name])

  @property
  def map_size(self) -> Tuple[int, int]:
    """(height, width) of the feature map: the heatmap's cells."""
    return tuple(int(d) for d in self.layer.output.shape[1:3])

  def skip_reason(self) -> Optional[str]:
    """Why the heatmaps say nothing (a feature map smaller than MIN_MAP_SIDE a side), or None."""
    height, width = self.map_size
    if min(height, width) >= MIN_MAP_SIDE:
      return None
    return (
      f"Grad-CAM skipped: the last convolutional feature map ({self.layer_name}) is "
      f"{height}x{width}, smaller than {MIN_MAP_SIDE}x{MIN_MAP_SIDE} (a heatmap of "
      f"{height * width} uniform cell{'s' if height * width > 1 else ''}); a larger "
      "--image-size gives a finer one"
    )

  def __call__(
    self, pixels: np.ndarray, class_ids: Optional[Sequence[int]] = None, batch_size: int = 32
  ) -> Tuple[np.ndarray, np.ndarray]:
    """(heatmaps [batch, height, width] in 0-1, probabilities [batch, classes]) of pixels
    [batch, height, width, channels] (0-255, any dtype: cast to float32 a batch at a time);
    heatmaps for `class_ids` (default: each image's predicted class)."""
    maps, probabilities = [], []
    for start in range(0, len(pixels), batch_size):
      ids = None if class_ids is None else class_ids[start : start + batch_size]
      m, p = self._batch(np.asarray(pixels[start : start + batch_size], np.float32), ids)
      maps.append(m)
      probabilities.append(p)
    return np.concatenate(maps), np.concatenate(probabilities)

  def _batch(self, pixels: np.ndarray, class_ids) -> Tuple[np.ndarray, np.ndarray]:
    inputs = tf.constant(pixels)
    with tf.GradientTape() as tape:
      feature_map, out = self._model({self._input_name: inputs}, training=False)
      feature_map = tf.cast(feature_map, tf.float32)
      if self.head is not None:
        logits = tf.matmul(tf.cast(out, self.head.kernel.dtype), self.head.kernel)
        logits = tf.cast(logits + self.head.bias if self.head.use_bias else logits, tf.float32)
        probabilities = tf.nn.softmax(logits)
      else:
        probabilities = logits = tf.cast(out, tf.float32)
      ids = (
        tf.argmax(probabilities, axis=1, output_type=tf.int32)
        if class_ids is None
        else tf.constant(np.asarray(class_ids), tf.int32)
      )
      score = tf.reduce_sum(tf.gather(logits, ids, axis=1, batch_dims=1))
    gradients = tape.gradient(score, feature_map)
    weights = tf.reduce_mean(gradients, axis=[1, 2], keepdims=True)
    cam = tf.nn.relu(tf.reduce_sum(weights * feature_map, axis=-1))[..., tf.newaxis]
    cam = tf.image.resize(cam, pixels.shape[1:3], method="bilinear")[..., 0]
    peak = tf.reduce_max(cam, axis=[1, 2], keepdims=True)
    cam = tf.math.divide_no_nan(cam, peak)
    return cam.numpy(), probabilities.numpy()


def overlay(pixels: np.ndarray, heatmap: np.ndarray, alpha: float = 0.45) -> np.ndarray:
  """uint8 RGB [height, width, 3]: the image (0-255, 1 or 3 channels) under the heatmap in the
  'jet' colours (blue: no evidence, red: the most)."""
  from matplotlib import colormaps  # noqa: PLC0415  (matplotlib: only to plot)

  image = np.asarray(pixels, np.float32)
  if image.shape[-1] == 1:
    image = np.repeat(image, 3, axis=-1)
  colours = colormaps["jet"](np.clip(heatmap, 0.0, 1.0))[..., :3] * 255.0
  return np.clip((1 - alpha) * image + alpha * colours, 0, 255).astype(np.uint8)
