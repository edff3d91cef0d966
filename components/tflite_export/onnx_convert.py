"""Keras model -> ONNX (tf2onnx, opset 17): uint8 pixels [batch, height, width, channels] in,
float32 class probabilities [batch, classes] out, the model's own first layers normalizing, as
in the TFLite files and the SavedModel's serving_pixels.

The serving function is frozen first (convert_variables_to_constants_v2) and converted from its
GraphDef: converted from the function itself, a Keras 3 model's standardization constants came
out as extra graph inputs. The graph's tensors are then named as the TFLite signature's
(`pixels`, `probabilities`), and the batch dimension `batch`.
"""

import keras
import tensorflow as tf

from schemas.features import PIXELS_INPUT, PREDICTION_KEY
from schemas.filenames import ONNX_FILE

OPSET = 17
FILE = ONNX_FILE
BATCH = "batch"  # the name of the input's and output's first, dynamic dimension


def _frozen_graph(model: keras.Model):
  """(GraphDef, input tensor name, output tensor name) of uint8 pixels -> probabilities."""
  # TensorFlow's own freezing: no public API names it.
  from tensorflow.python.framework.convert_to_constants import (  # noqa: PLC0415  (TensorFlow internals: only when converting)
    convert_variables_to_constants_v2,
  )

  shape = list(model.inputs[0].shape[1:])
  input_name = model.inputs[0].name

  @tf.function(input_signature=[tf.TensorSpec([None, *shape], tf.uint8, name=PIXELS_INPUT)])
  def serve(pixels):
    probabilities = model({input_name: tf.cast(pixels, tf.float32)}, training=False)
    return tf.cast(probabilities, tf.float32)

  frozen = convert_variables_to_constants_v2(serve.get_concrete_function())
  (inputs,), (outputs,) = frozen.inputs, frozen.outputs
  return frozen.graph.as_graph_def(), inputs.name, outputs.name


def _rename(model_proto, old: str, new: str) -> None:
  """Renames a graph tensor wherever it appears (graph inputs and outputs, node ports)."""
  graph = model_proto.graph
  for value in list(graph.input) + list(graph.output):
    if value.name == old:
      value.name = new
  for node in graph.node:
    node.input[:] = [new if name == old else name for name in node.input]
    node.output[:] = [new if name == old else name for name in node.output]


def convert(model: keras.Model) -> bytes:
  """The .onnx bytes of `model` (opset OPSET), its tensors `pixels` and `probabilities`."""
  import tf2onnx  # noqa: PLC0415  (tf2onnx: only when an ONNX export is asked for)

  graph_def, input_name, output_name = _frozen_graph(model)
  model_proto, _ = tf2onnx.convert.from_graph_def(
    graph_def, input_names=[input_name], output_names=[output_name], opset=OPSET
  )
  _rename(model_proto, input_name, PIXELS_INPUT)
  _rename(model_proto, output_name, PREDICTION_KEY)
  for value in list(model_proto.graph.input) + list(model_proto.graph.output):
    value.type.tensor_type.shape.dim[0].dim_param = BATCH
  return model_proto.SerializeToString()
