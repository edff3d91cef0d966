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


class _Top1:
  """Mixin for a ConfusionMatrixMetric: top-1 predictions, keyed without the top_k."""

  def __init__(self, name: Optional[str] = None, **kwargs):
    kwargs.update(top_k=1, thresholds=[0.0])
    super().__init__(name=name, **kwargs)

  # TFMA passes a computation function only the arguments its signature names: keep them all.
  def _metric_computations(
    self,
    thresholds=None,
    num_thresholds=None,
    top_k=None,
    class_id=None,
    name=None,
    eval_config=None,
    model_name="",
    output_name="",
    sub_key=None,
    aggregation_type=None,
    class_weights=None,
    example_weighted=False,
    preprocessors=None,
    metric_key=None,
    **kwargs,
  ):
    del metric_key  # replaced by the key without the top_k
    key = metric_types.MetricKey(
      name=name,
      model_name=model_name,
      output_name=output_name,
      sub_key=sub_key,
      aggregation_type=aggregation_type,
      example_weighted=example_weighted,
    )
    return super()._metric_computations(
      thresholds=thresholds,
      num_thresholds=num_thresholds,
      top_k=top_k,
      class_id=class_id,
      name=name,
      eval_config=eval_config,
      model_name=model_name,
      output_name=output_name,
      sub_key=sub_key,
      aggregation_type=aggregation_type,
      class_weights=class_weights,
      example_weighted=example_weighted,
      preprocessors=preprocessors,
      metric_key=key,
      **kwargs,
    )


class Top1Precision(_Top1, confusion_matrix_metrics.Precision):
  """Of the examples whose top-1 class is this class, the share that are this class."""


class Top1Recall(_Top1, confusion_matrix_metrics.Recall):
  """Of the examples of this class, the share whose top-1 class is this class."""


class Top1F1Score(_Top1, confusion_matrix_metrics.F1Score):
  """Harmonic mean of Top1Precision and Top1Recall."""
