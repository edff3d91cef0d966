"""Per-class TFMA metrics on top-1 predictions, which the per-class gates use.

Binarized by class id alone, TFMA's Precision/Recall/F1Score call a class predicted when its
probability passes 0.5: one-vs-rest figures that disagree with the confusion matrix whenever
the model is not confident. These are the confusion matrix's own figures: derived from TFMA's
multi-class confusion matrix at a threshold of 0 (each example's most probable class), the one
MultiClassConfusionMatrixPlot draws, so one pass per example serves every class (a binarized
matrix per class costs a pass per class and example). Their metric keys carry the class id
alone, as the thresholds derived from the MetricsSpec's binarization do, so the gates find them.

Use in a MetricsSpec binarized by class_ids:
  tfma.MetricConfig(class_name="Top1Precision", module=MODULE)
"""

import math
from typing import Dict, List, Optional

from tensorflow_model_analysis.metrics import metric_types
from tensorflow_model_analysis.metrics import multi_class_confusion_matrix_metrics as multi_class
from tensorflow_model_analysis.proto import config_pb2

MODULE = __name__
TOP1 = 0.0  # the matrix's threshold: every example's most probable class counts as predicted


class Counts:
  """A class's true positives, false positives and false negatives in a top-1 matrix."""

  def __init__(self, matrix: Dict[multi_class.MatrixEntryKey, float], class_id: int):
    self.tp = self.predicted = self.actual = 0.0
    for entry, count in matrix.items():
      actual, predicted = entry.actual_class_id == class_id, entry.predicted_class_id == class_id
      self.tp += count if actual and predicted else 0.0
      self.predicted += count if predicted else 0.0
      self.actual += count if actual else 0.0
    self.fp, self.fn = self.predicted - self.tp, self.actual - self.tp


def _ratio(numerator: float, denominator: float) -> float:
  """TFMA's reading of an empty denominator: NaN (a class never predicted has no precision)."""
  return numerator / denominator if denominator > 0 else math.nan


def precision(c: Counts) -> float:
  return _ratio(c.tp, c.tp + c.fp)


def recall(c: Counts) -> float:
  return _ratio(c.tp, c.tp + c.fn)


def f1_score(c: Counts) -> float:
  return _ratio(2 * c.tp, 2 * c.tp + c.fp + c.fn)


FIGURES = {"precision": precision, "recall": recall, "f1_score": f1_score}


def _top1_per_class(
  name: str,
  figure: str,
  eval_config: Optional[config_pb2.EvalConfig] = None,
  model_names: Optional[List[str]] = None,
  output_names: Optional[List[str]] = None,
  sub_keys: Optional[List[Optional[metric_types.SubKey]]] = None,
  example_weighted: bool = False,
) -> metric_types.MetricComputations:
  """For each model and output: the top-1 multi-class matrix (shared with the plot's: TFMA
  computes identical computations once) and the `figure` (a FIGURES key) of each class id in
  sub_keys from it, under the metric key `name`."""
  compute = FIGURES[figure]
  class_ids = [k.class_id for k in sub_keys or [] if k is not None and k.class_id is not None]
  computations: metric_types.MetricComputations = []
  for model_name in model_names or [""]:
    for output_name in output_names or [""]:
      matrices = multi_class.multi_class_confusion_matrices(
        thresholds=[TOP1],
        eval_config=eval_config,
        model_name=model_name,
        output_name=output_name,
        example_weighted=example_weighted,
      )
      keys = [
        metric_types.MetricKey(
          name=name,
          model_name=model_name,
          output_name=output_name,
          sub_key=metric_types.SubKey(class_id=class_id),
          example_weighted=example_weighted,
        )
        for class_id in class_ids
      ]

      def result(metrics, matrix_key=matrices[0].keys[0], keys=keys):
        matrix = metrics[matrix_key].get(TOP1, {})
        return {key: compute(Counts(matrix, key.sub_key.class_id)) for key in keys}

      computations += [*matrices, metric_types.DerivedMetricComputation(keys=keys, result=result)]
  return computations


class _Top1(metric_types.Metric):
  NAME = ""

  def __init__(self, name: Optional[str] = None):
    super().__init__(_top1_per_class, name=name or self.NAME, figure=self.NAME)


class Top1Precision(_Top1):
  """Of the examples whose top-1 class is this class, the share that are this class."""

  NAME = "precision"


class Top1Recall(_Top1):
  """Of the examples of this class, the share whose top-1 class is this class."""

  NAME = "recall"


class Top1F1Score(_Top1):
  """Harmonic mean of Top1Precision and Top1Recall."""

  NAME = "f1_score"
