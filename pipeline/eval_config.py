"""The Evaluator's configuration: what it gates on and what it computes for the report."""

from typing import Optional

# TFMA 0.52 no longer re-exports its config protos at the top level (tfma.EvalConfig is gone).
from tensorflow_model_analysis.proto import config_pb2 as tfma

from components.evaluator import metrics as evaluator_metrics
from pipeline.configs import PipelineConfig
from schemas.features import (
  LABEL_KEY,
  LABEL_XF,
  PREDICTION_KEY,
  SERVING_EXAMPLES_SIGNATURE,
  TOP_K_ACCURACY,
  TRANSFORM_SIGNATURE,
)


def _overall(threshold: tfma.MetricThreshold) -> tfma.PerSliceMetricThreshold:
  """Gates on the whole eval set only; the per-label slices are for analysis."""
  return tfma.PerSliceMetricThreshold(slicing_specs=[tfma.SlicingSpec()], threshold=threshold)


TOP_K, TOP_K_MIN_CLASSES = 5, 10  # top-5 accuracy, reported with 10 classes or more


def _lower_bound(value: float) -> tfma.MetricThreshold:
  return tfma.MetricThreshold(
    value_threshold=tfma.GenericValueThreshold(lower_bound={"value": value})
  )


def _top1_per_class(class_name: str, bound: Optional[float] = None) -> tfma.MetricConfig:
  """A per-class metric on top-1 predictions (components/evaluator/metrics.py), gated on the
  overall slice when bound > 0. A bound of 0 is no gate: it could only fail on an undefined
  value (a class that is never predicted has no precision)."""
  metric = tfma.MetricConfig(class_name="Top1" + class_name, module=evaluator_metrics.MODULE)
  if bound:
    metric.per_slice_thresholds.append(_overall(_lower_bound(bound)))
  return metric


def create_eval_config(config: PipelineConfig, num_classes: int) -> tfma.EvalConfig:
  """Gates: overall accuracy (bound, and change against the served model) and every
  class's recall and precision on top-1 predictions. Also computed, for analysis: per-class F1,
  the multi-class confusion matrix, the calibration of the top probability (TFMA's histogram
  micro-averaged over the top 1: one entry per image, its top probability and whether that class
  was right) and, with TOP_K_MIN_CLASSES classes or more, top-5 accuracy (how often the true
  class is among the 5 most probable: Keras' SparseTopKCategoricalAccuracy, batched with the
  accuracy)."""
  accuracy_gate = _lower_bound(config.accuracy_threshold)
  accuracy_gate.change_threshold.CopyFrom(
    tfma.GenericChangeThreshold(
      direction=tfma.MetricDirection.HIGHER_IS_BETTER, absolute={"value": config.change_threshold}
    )
  )
  return tfma.EvalConfig(
    model_specs=[
      tfma.ModelSpec(
        signature_name=SERVING_EXAMPLES_SIGNATURE,
        preprocessing_function_names=[TRANSFORM_SIGNATURE],
        label_key=LABEL_XF,
        prediction_key=PREDICTION_KEY,
      )
    ],
    slicing_specs=[tfma.SlicingSpec(), tfma.SlicingSpec(feature_keys=[LABEL_KEY])],
    metrics_specs=[
      tfma.MetricsSpec(
        metrics=[
          tfma.MetricConfig(class_name="ExampleCount"),
          tfma.MetricConfig(
            class_name="SparseCategoricalAccuracy", per_slice_thresholds=[_overall(accuracy_gate)]
          ),
          tfma.MetricConfig(class_name="MultiClassConfusionMatrixPlot"),
        ]
        + (
          [
            tfma.MetricConfig(
              class_name="SparseTopKCategoricalAccuracy",
              config=f'"k": {TOP_K}, "name": "{TOP_K_ACCURACY}"',
            )
          ]
          if num_classes >= TOP_K_MIN_CLASSES
          else []
        )
      ),
      tfma.MetricsSpec(
        binarize=tfma.BinarizationOptions(class_ids={"values": list(range(num_classes))}),
        metrics=[
          _top1_per_class("Recall", config.min_class_recall),
          _top1_per_class("Precision", config.min_class_precision),
          _top1_per_class("F1Score"),
        ],
      ),
      tfma.MetricsSpec(
        aggregate=tfma.AggregationOptions(micro_average=True, top_k_list={"values": [1]}),
        metrics=[tfma.MetricConfig(class_name="CalibrationPlot")],
      ),
    ],
  )
