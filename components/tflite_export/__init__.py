"""TFLite models (int8 and float16) of the trained model, checked against the SavedModel."""

from components.tflite_export.component import TFLiteExport, TFLiteModel

__all__ = ["TFLiteExport", "TFLiteModel"]
