"""Names shared by ImageExampleGen's output, the schema, Transform, the Trainer, serving and the
components that read the Trainer's outputs (which import this module, never train.py)."""

IMAGE_KEY = "image"  # encoded image bytes (JPEG/PNG/GIF/BMP/WebP)
LABEL_KEY = "label"  # class name
FILE_NAME_KEY = "file_name"  # path below the data root; the split is a hash of it
LABEL_VOCAB = "label"  # TFT vocabulary file: class id -> class name


def transformed_name(key: str) -> str:
  return key + "_xf"


IMAGE_XF = transformed_name(IMAGE_KEY)  # uint8 [size, size, channels], serialized
IMAGE_STATS = "image_stats"  # Transform asset: image shape, per-channel pixel mean and std
LABEL_XF = transformed_name(LABEL_KEY)  # int64 class id
LABEL_COUNTS = "label_counts"  # TFT vocabulary with frequencies: "count name" per class

# The served model's signatures and outputs.
SERVING_EXAMPLES_SIGNATURE = "serving_examples"
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

# What the Trainer writes beside the model, in its model run.
ACCURACY = "sparse_categorical_accuracy"  # the metric's name in the training log
TOP_K_ACCURACY = "top_5_accuracy"  # the Evaluator's top-5 accuracy (10 classes or more)
TRAINING_LOG = "training_log.jsonl"
TRAINING_SETTINGS = "training_settings.json"  # what this Trainer run used, for the model card

# Allowed values of the settings, declared once: the config's flags offer them and the modules
# that implement them are keyed by them (trainer_module/config_test.py checks both ways).
MODELS = ("cnn", "efficientnet", "mobilenet")  # model.BUILDERS
EFFICIENTNET_VARIANTS = ("b0", "b1", "b2", "b3")  # model.EFFICIENTNETS
MOBILENET_VARIANTS = ("v2", "v3small", "v3large")  # model.MOBILENETS
# Each pretrained family's variants, the first its default.
MODEL_VARIANTS = {"efficientnet": EFFICIENTNET_VARIANTS, "mobilenet": MOBILENET_VARIANTS}
MIN_PRETRAINED_SIZE = 32  # the smallest input Keras' EfficientNet and MobileNet backbones take
AUGMENTATIONS = ("flip", "rotation", "zoom", "contrast", "brightness")  # augmentation.LAYERS
CLASS_WEIGHT_MODES = ("auto", "balanced", "none")  # class_weights.class_weights
CACHE_MODES = ("auto", "memory", "disk", "none")  # cache.choose
RESIZE_MODES = ("squash", "crop", "pad")  # preprocessing.resize
LR_SCHEDULES = ("cosine", "plateau")  # train.run_fn
WARM_START_MODES = ("auto", "never")  # warm_start.MODES
PRECISION_MODES = ("auto", "off")  # distribution.precision_policy
DRIFT_ACTIONS = ("warn", "block")  # components/drift_check/executor.ACTIONS
