"""Per-file checks: what an image file is, and whether the pipeline can use it.

Each check answers with a rejection reason (a short snake_case word that reports count by) or
None. The header is read with Pillow before any decode, so an oversized image (a decompression
bomb) is rejected without allocating its pixels; the final decode is TensorFlow's, the same one
Transform runs.
"""

import io
import unicodedata
from typing import NamedTuple, Optional, Tuple

import numpy as np
import tensorflow as tf
from PIL import Image

from schemas.filenames import IMAGE_EXTENSIONS

SUPPORTED_FORMATS = ("png", "jpeg", "gif", "bmp", "webp")

# Leading bytes of image formats: the supported ones and some that are recognized but refused.
_MAGIC = (
  (b"\x89PNG\r\n\x1a\n", "png"),
  (b"\xff\xd8\xff", "jpeg"),
  (b"GIF87a", "gif"),
  (b"GIF89a", "gif"),
  (b"BM", "bmp"),
  (b"II*\x00", "tiff"),
  (b"MM\x00*", "tiff"),
  (b"\x00\x00\x01\x00", "ico"),
  (b"8BPS", "psd"),
)

Image.MAX_IMAGE_PIXELS = None  # Pillow's own bomb guard is replaced by max_pixels below.


def sniff_format(data: bytes) -> str:
  """The image format named by the file's leading bytes, or '' for none known."""
  if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
    return "webp"
  if data[4:12] in (b"ftypheic", b"ftypheix", b"ftypavif", b"ftypmif1"):
    return "heif"
  return next((fmt for magic, fmt in _MAGIC if data.startswith(magic)), "")


def is_truncated(data: bytes, fmt: str) -> bool:
  """True when the file stops before its format's end marker (or declared size)."""
  if fmt == "png":
    return not data.rstrip(b"\x00").endswith(b"IEND\xaeB`\x82")
  if fmt == "jpeg":
    return b"\xff\xd9" not in data[-1024:]
  if fmt == "gif":
    return not data.rstrip(b"\x00").endswith(b";")
  if fmt == "bmp":
    return len(data) < int.from_bytes(data[2:6], "little")
  if fmt == "webp":  # RIFF: the size of what follows the first 8 bytes
    return len(data) < 8 + int.from_bytes(data[4:8], "little")
  return False


class ImageInfo(NamedTuple):
  """What ingestion records of a decoded image (a tuple, so the spool carries it as a list)."""

  height: int
  width: int
  channels: int
  brightness: float  # mean pixel value over all channels, 0-255


def brightness(pixels: np.ndarray) -> float:
  """Mean pixel value on a 0-255 scale (16-bit images are scaled down)."""
  scale = 257.0 if pixels.dtype == np.uint16 else 1.0
  return round(float(np.mean(pixels)) / scale, 2)


# Bidirectional embedding, override and isolate controls (U+202A-U+202E, U+2066-U+2069): a
# class name holding one is shown reordered (a U+202E makes "gnp.exe" read "exe.png").
BIDI_CONTROLS = frozenset(map(chr, [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]))


def label_problem(label: str) -> Optional[str]:
  """invalid_label for a class name Transform's vocabulary file (one name a line) cannot hold,
  or that would not read as written: one with a control character (newline, carriage return,
  NUL, tab, ...), a line or paragraph separator or a bidirectional control, or with whitespace
  around it (which a folder name cannot lose without becoming another class); else None."""
  if label != label.strip() or any(
    unicodedata.category(ch) in ("Cc", "Zl", "Zp") or ch in BIDI_CONTROLS for ch in label
  ):
    return "invalid_label"
  return None


def is_class(label: str) -> bool:
  """Whether a label names a class (files under an invalid one are rejected)."""
  return bool(label) and not label_problem(label)


def has_image_extension(name: str) -> bool:
  return name.lower().endswith(IMAGE_EXTENSIONS)


def inspect_image(data: bytes, max_pixels: int, min_size: int = 1) -> Tuple[Optional[str], Tuple]:
  """(rejection reason or None, the decoded image's ImageInfo) of one file's bytes."""
  if not data:
    return "empty_file", ()
  fmt = sniff_format(data)
  if not fmt:
    return "not_an_image", ()
  if fmt not in SUPPORTED_FORMATS:
    return "unsupported_format", ()
  if is_truncated(data, fmt):
    return "truncated_file", ()
  try:
    width, height = Image.open(io.BytesIO(data)).size  # header only
  except Exception:  # noqa: BLE001  (whatever PIL raises on a header: the file's reason)
    return "decode_error", ()
  if width * height > max_pixels:
    return "too_large", ()
  if min(width, height) < min_size:
    return "too_small", ()
  try:
    # A tensor, not bytes: TF's fast op path takes only tensors (47 vs 77 us a PNG here).
    pixels = tf.io.decode_image(tf.constant(data), expand_animations=False).numpy()
  except (tf.errors.InvalidArgumentError, tf.errors.UnknownError):
    return "decode_error", ()
  return None, ImageInfo(*pixels.shape, brightness(pixels))
