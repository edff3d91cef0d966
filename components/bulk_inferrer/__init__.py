"""TFX's BulkInferrer, scoring only the model ServingPusher pushed."""

from components.bulk_inferrer.component import BulkInferrer

__all__ = ["BulkInferrer"]
