"""Feature keys, the Transform outputs, and the served model's signatures and outputs: the names
ImageExampleGen writes, the schema holds, Transform and the Trainer read and serving answers."""

IMAGE_KEY = "image"  # encoded image bytes (JPEG/PNG/GIF/BMP/WebP)
LABEL_KEY = "label"  # class name
FILE_NAME_KEY = "file_name"  # path below the data root; the split is a hash of it
SHA256_KEY = "sha256"  # hex digest of the image bytes
FORMAT_KEY = "format"  # the sniffed format: png, jpeg, gif, bmp, webp
# What ImageExampleGen records of each image, compared across spans by DriftCheck.
IMAGE_FEATURES = ("width", "height", "channels", "brightness")
LABEL_VOCAB = "label"  # TFT vocabulary file: class id -> class name


def transformed_name(key: str) -> str:
  return key + "_xf"


IMAGE_XF = transformed_name(IMAGE_KEY)  # uint8 [size, size, channels], serialized
IMAGE_STATS = "image_stats"  # Transform asset: image shape, per-channel pixel mean and std
LABEL_XF = transformed_name(LABEL_KEY)  # int64 class id
LABEL_COUNTS = "label_counts"  # TFT vocabulary with frequencies: "count name" per class

# The served model's signatures and outputs.
SERVING_DEFAULT_SIGNATURE = "serving_default"  # encoded image bytes in
SERVING_EXAMPLES_SIGNATURE = "serving_examples"  # serialized tf.Examples in (the Evaluator's)
# uint8 pixels [batch, height, width, channels] in (decoded and resized as input.json says),
# serving_default's outputs out: for a server or client that decodes images itself.
SERVING_PIXELS_SIGNATURE = "serving_pixels"
PIXELS_INPUT = "pixels"
# serialized tf.Examples -> probabilities and class_names, each [batch, classes]: TFX's
# BulkInferrer (tfx_bsl splits every output by row and cannot split a [batch] string tensor).
BULK_INFERENCE_SIGNATURE = "bulk_inference"
TRANSFORM_SIGNATURE = "transform_features"
PREDICTION_KEY = "probabilities"
SERVING_INPUT = "image_bytes"
SERVING_OUTPUTS = {  # serving_default's outputs and their dtypes, checked before a push
  "classes": "string",
  "scores": "float32",
  PREDICTION_KEY: "float32",
  "class_names": "string",
}

# The TFLite models' signature: uint8 pixels in, probabilities out (components/tflite_export).
TFLITE_SIGNATURE = "serve"
TFLITE_INPUT = PIXELS_INPUT
TFLITE_OUTPUT = "probabilities"

# Metric names.
ACCURACY = "sparse_categorical_accuracy"  # the accuracy's name in the training log and TFMA
TOP_K_ACCURACY = "top_5_accuracy"  # the Evaluator's top-5 accuracy (10 classes or more)

# An ensemble's members: nested models member_1, member_2, ... in the exported Keras model,
# and their phases in the training log (member_1_train, member_1_fine_tune, ...).
ENSEMBLE_MEMBER_PREFIX = "member_"
