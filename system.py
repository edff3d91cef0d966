"""KFP's `system.*` artifact types, importable under the names the TFX v2 container asks for.

Kubeflow and Vertex AI draw an artifact by its schema title (`system.ClassificationMetrics`,
`system.Markdown`); TFX's Kubeflow v2 container imports a custom artifact's class by that same
title. This module makes the title an import path, so RunReport's outputs are both drawn by the
UI and readable by the container.
"""

from reporting.component import ClassificationMetrics, Markdown

__all__ = ["ClassificationMetrics", "Markdown"]
