"""Feature names shared by ExampleGen's output, Transform, Trainer and the serving signatures."""

IMAGE_KEY = "image"          # encoded image bytes (JPEG/PNG/GIF/BMP)
LABEL_KEY = "label"          # class name
LABEL_VOCAB = "label"        # TFT vocabulary file: class id -> class name


def transformed_name(key: str) -> str:
  return key + "_xf"


IMAGE_XF = transformed_name(IMAGE_KEY)   # float32 [size, size, channels] in [0, 1]
LABEL_XF = transformed_name(LABEL_KEY)   # int64 class id
