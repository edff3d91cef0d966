"""ExampleGen for a class-per-sub-folder tree of images."""

from components.image_example_gen.component import ImageExampleGen

__all__ = ["ImageExampleGen"]
