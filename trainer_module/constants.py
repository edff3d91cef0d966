"""Feature names shared by ImageExampleGen's output, the schema, Transform, Trainer and serving."""

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
RESIZE_MODES = ("squash", "crop", "pad")  # how images become size x size (preprocessing.resize)
