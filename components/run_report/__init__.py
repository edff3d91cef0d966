"""The run's evaluation for the Kubeflow / Vertex AI UI: confusion matrix and model card."""

from components.run_report.component import RunReport

__all__ = ["RunReport"]
