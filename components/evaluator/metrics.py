"""Per-class TFMA metrics on top-1 predictions, which the per-class gates use.

Binarized by class id alone, TFMA's Precision/Recall/F1Score call a class predicted when its
probability passes 0.5: one-vs-rest figures that disagree with the confusion matrix whenever
the model is not confident. These keep only each example's most probable class (TFMA's top_k
1, which sets the other classes to -inf, at a threshold of 0), so their values are the
confusion matrix's. Their metric keys carry the class id alone, as the thresholds derived from
the MetricsSpec's binarization do, so the gates find them.

Use in a MetricsSpec binarized by class_ids:
  tfma.MetricConfig(class_name="Top1Precision", module=MODULE)
"""

from typing import Optional

from tensorflow_model_analysis.metrics import confusion_matrix_metrics, metric_types

MODULE = __name__


def class_key(key: metric_types.MetricKey) -> metric_types.MetricKey:
  """The key without its sub key's top_k (the class id alone, as the thresholds' keys)."""
  sub_key = key.sub_key
  if sub_key is None or sub_key.top_k is None:
    return key
  rest = None
  if sub_key.class_id is not None or sub_key.k is not None:
    rest = metric_types.SubKey(class_id=sub_key.class_id, k=sub_key.k)
  return metric_types.MetricKey(
    name=key.name,
    model_name=key.model_name,
    output_name=key.output_name,
    sub_key=rest,
    aggregation_type=key.aggregation_type,
    example_weighted=key.example_weighted,
    is_diff=key.is_diff,
  )


def _rekeyed(computation: metric_types.DerivedMetricComputation):
  def result(metrics):
    return {class_key(key): value for key, value in computation.result(metrics).items()}

  return metric_types.DerivedMetricComputation(
    keys=[class_key(key) for key in computation.keys], result=result
  )


class _Top1:
  """Mixin for a ConfusionMatrixMetric: top-1 predictions, keyed without the top_k."""

  def __init__(self, name: Optional[str] = None, **kwargs):
    kwargs.update(top_k=1, thresholds=[0.0])
    super().__init__(name=name, **kwargs)

  def computations(self, *args, **kwargs) -> metric_types.MetricComputations:
    """TFMA's own computations (tfma.metrics.Metric.computations), this metric's results keyed
    by class_key; the confusion matrices they derive from stay top-1 ones."""
    return [
      _rekeyed(computation)
      if isinstance(computation, metric_types.DerivedMetricComputation)
      and any(key.name == self.name for key in computation.keys)
      else computation
      for computation in super().computations(*args, **kwargs)
    ]


class Top1Precision(_Top1, confusion_matrix_metrics.Precision):
  """Of the examples whose top-1 class is this class, the share that are this class."""


class Top1Recall(_Top1, confusion_matrix_metrics.Recall):
  """Of the examples of this class, the share whose top-1 class is this class."""


class Top1F1Score(_Top1, confusion_matrix_metrics.F1Score):
  """Harmonic mean of Top1Precision and Top1Recall."""
