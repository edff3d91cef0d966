"""Custom TFX components, one folder each."""


def __getattr__(name):
  """components.TFLiteModel: the import path that a custom artifact type's name must be on
  Kubeflow V2 (the container imports the class named by the type's schema title)."""
  if name == "TFLiteModel":
    from components.tflite_export.component import TFLiteModel  # noqa: PLC0415  (TensorFlow/TFX behind it: loaded when used)

    return TFLiteModel
  raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
