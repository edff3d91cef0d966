"""ExampleGen for a class-per-sub-folder tree of images."""

__all__ = ["ImageExampleGen"]


def __getattr__(name):
  # Imported when first used: Beam's worker processes import this package's ingest steps
  # (ingest.py), and the component would bring all of TFX's components with it (seconds).
  if name == "ImageExampleGen":
    from components.image_example_gen import component  # noqa: PLC0415  (TensorFlow/TFX behind it: loaded when used)

    return component.ImageExampleGen
  raise AttributeError(name)
