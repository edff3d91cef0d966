"""The Trainer's advice before training: ImageNet families from scratch on few images."""

import pytest

from trainer_module import advice


def test_a_pretrained_family_without_weights_on_few_images_gets_one_line():
  assert advice.from_scratch_line("efficientnet", "b0", None, 600) == (
    "[Trainer] warning: efficientnet b0 from scratch (--weights none) on 600 training images: "
    "ImageNet-family models trained from scratch need far more images (tens of thousands); "
    "start from ImageNet weights (--weights imagenet, the default, or a weights file), train "
    "longer, or use --model cnn"
  )
  line = advice.from_scratch_line("mobilenet", "v3small", None, 9_999)
  assert line.startswith(
    "[Trainer] warning: mobilenet v3small from scratch (--weights none) on 9,999 "
  )


@pytest.mark.parametrize(
  "model,weights,images",
  [
    ("mobilenet", "/weights/mobilenet_notop.h5", 600),  # pretrained
    ("efficientnet", None, 10_000),  # enough images
    ("cnn", None, 600),  # made for small collections
  ],
)
def test_no_line_with_weights_enough_images_or_the_cnn(model, weights, images):
  assert advice.from_scratch_line(model, "v2", weights, images) is None
  assert not advice.from_scratch(model, weights, images)
