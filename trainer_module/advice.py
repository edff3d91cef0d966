"""Advice the Trainer gives before training: an ImageNet-family model trained from scratch on a
small collection rarely learns (seen: EfficientNet B0 on 1,400 digits, 2 epochs, accuracy 0.21,
every image one class)."""

from typing import Optional

from schemas.settings import MODEL_VARIANTS

PRETRAINED_FAMILIES = tuple(MODEL_VARIANTS)  # models built for ImageNet weights
MIN_SCRATCH_IMAGES = 10_000  # fewer training images than this: start from ImageNet weights


def from_scratch(model: str, weights: Optional[str], images: int) -> bool:
  """Whether an ImageNet-family model trains without weights on too few images to learn."""
  return model in PRETRAINED_FAMILIES and not weights and images < MIN_SCRATCH_IMAGES


def from_scratch_text(model: str, variant: Optional[str], images: int) -> str:
  """What to do instead, e.g. 'efficientnet b0 from scratch (--weights none) on 600 training
  images: ...'."""
  return (
    f"{' '.join(filter(None, [model, variant]))} from scratch (--weights none) on {images:,} "
    f"training images: ImageNet-family models trained from scratch need far more images (tens "
    f"of thousands); start from ImageNet weights (--weights imagenet, the default, or a weights "
    f"file), train longer, or use --model cnn"
  )


def from_scratch_line(
  model: str, variant: Optional[str], weights: Optional[str], images: int
) -> Optional[str]:
  """The Trainer's console line before training, or None when there is nothing to say."""
  if not from_scratch(model, weights, images):
    return None
  return f"[Trainer] warning: {from_scratch_text(model, variant, images)}"
