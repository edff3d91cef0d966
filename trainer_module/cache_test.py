"""Where the Trainer caches its input: memory or disk, by the size of the splits."""

from trainer_module import cache


def test_the_cache_choice_follows_the_size_of_the_splits():
  images = {"train": 55_000, "eval": 5_000}
  caches, line = cache.choose("auto", images, [28, 28, 1], "/runs/7/cache", budget=6 << 30)
  assert caches == {"train": "memory", "eval": "memory"}
  assert line.startswith("[Trainer] cache: in memory (train 55,000, eval 5,000 images of 28x28x1")
  caches, line = cache.choose("auto", images, [224, 224, 3], "/runs/7/cache", budget=6 << 30)
  assert caches == {"train": "/runs/7/cache/train", "eval": "/runs/7/cache/eval"}
  assert "on disk under /runs/7/cache" in line and "over the memory budget of 6.0 GB" in line
  assert cache.choose("none", images, [8, 8, 1], "/c")[0] == {"train": "none", "eval": "none"}
