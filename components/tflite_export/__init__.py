"""The trained model as TFLite (int8 and float16) and ONNX files, each checked against the
SavedModel by one parity gate."""

from components.tflite_export.component import TFLiteExport, TFLiteModel

__all__ = ["TFLiteExport", "TFLiteModel"]
