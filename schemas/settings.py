"""Allowed values of the settings, declared once: the flags offer them (pipeline/configs.py,
trainer_module/config.py) and the modules that implement them are keyed by them
(trainer_module/config_test.py checks both ways)."""

MODELS = ("cnn", "efficientnet", "mobilenet")  # trainer_module/model.BUILDERS
EFFICIENTNET_VARIANTS = ("b0", "b1", "b2", "b3")  # model.EFFICIENTNETS
MOBILENET_VARIANTS = ("v2", "v3small", "v3large")  # model.MOBILENETS
# Each pretrained family's variants, the first its default.
MODEL_VARIANTS = {"efficientnet": EFFICIENTNET_VARIANTS, "mobilenet": MOBILENET_VARIANTS}
MIN_PRETRAINED_SIZE = 32  # the smallest input Keras' EfficientNet and MobileNet backbones take
# --weights' names besides a file: Keras' ImageNet "notop" file (the pretrained families'
# default; model.imagenet_weights) and none (from scratch).
IMAGENET_WEIGHTS = "imagenet"
NO_WEIGHTS = "none"
# --augment's names: pixel layers (augmentation.LAYERS), then the augmentations that blend
# pairs of images and their one-hot labels (augmentation.MIXERS).
PIXEL_AUGMENTATIONS = (
  "flip",
  "rotation",
  "zoom",
  "contrast",
  "brightness",
  "randaugment",
  "erasing",
)
MIXING_AUGMENTATIONS = ("mixup", "cutmix")
AUGMENTATIONS = PIXEL_AUGMENTATIONS + MIXING_AUGMENTATIONS
RECIPES = ("strong",)
# --export: formats held to the parity gate (components/tflite_export/executor.FOLDERS); each
# is written to a folder of its name, pushed inside the version when it passes.
EXPORT_FORMATS = ("tflite", "onnx")  # config.RECIPES: named combinations of training settings
CLASS_WEIGHT_MODES = ("auto", "balanced", "none")  # class_weights.class_weights
CACHE_MODES = ("auto", "memory", "disk", "none")  # cache.choose
RESIZE_MODES = ("squash", "crop", "pad")  # preprocessing.resize
LR_SCHEDULES = ("cosine", "plateau")  # train.run_fn
WARM_START_MODES = ("auto", "never")  # warm_start.decide
PRECISION_MODES = ("auto", "off")  # distribution.precision_policy
DRIFT_ACTIONS = ("warn", "block")  # components/drift_check/executor
# LabelIssues' custom_config: the Trainer's settings and this key, the number of folds.
LABEL_ISSUE_FOLDS_KEY = "label_issue_folds"
