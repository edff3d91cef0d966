"""TF Serving warmup files (assets.extra/tf_serving_warmup_requests): written by the serving
check, read back by it and by the pusher. TensorFlow is imported when a file is touched, so
that the pipeline's config can read the record limit cheaply."""

import os
from typing import List

MAX_WARMUP_RECORDS = 1000  # TF Serving replays no more warmup records than this.


def write_warmup(path: str, requests: List) -> None:
  """Writes PredictRequests as the PredictionLog records TF Serving replays at load time."""
  import tensorflow as tf  # noqa: PLC0415  (TensorFlow/TFX: loaded when used, not on import)
  from tensorflow_serving.apis import prediction_log_pb2  # noqa: PLC0415  (TensorFlow/TFX: loaded when used, not on import)

  tf.io.gfile.makedirs(os.path.dirname(path))
  with tf.io.TFRecordWriter(path) as writer:
    for request in requests:
      writer.write(
        prediction_log_pb2.PredictionLog(
          predict_log=prediction_log_pb2.PredictLog(request=request)
        ).SerializeToString()
      )


def read_warmup(path: str) -> List:
  """The PredictRequests of a warmup file, as TF Serving replays them at load time."""
  import tensorflow as tf  # noqa: PLC0415  (TensorFlow/TFX: loaded when used, not on import)
  from tensorflow_serving.apis import prediction_log_pb2  # noqa: PLC0415  (TensorFlow/TFX: loaded when used, not on import)

  return [
    prediction_log_pb2.PredictionLog.FromString(r.numpy()).predict_log.request
    for r in tf.data.TFRecordDataset(path)
  ]
