"""The Top1 metrics through TFMA's public Metric.computations: keyed as the pipeline's gates
look them up, derived from the top-1 multi-class confusion matrix the plot also uses, each
class's figure as counted from that matrix by hand."""

import math

import pytest
import tensorflow_model_analysis as tfma
from tensorflow_model_analysis.metrics import metric_types
from tensorflow_model_analysis.metrics import multi_class_confusion_matrix_metrics as multi_class

from components.evaluator import metrics
from pipeline import configs
from pipeline.pipeline import create_eval_config

CLASSES = 3


def _computations(metric, eval_config):
  return metric.computations(
    eval_config=eval_config,
    model_names=[""],
    output_names=[""],
    sub_keys=[metric_types.SubKey(class_id=i) for i in range(CLASSES)],
    example_weighted=False,
  )


@pytest.fixture(scope="module")
def eval_config():
  config = configs.PipelineConfig(min_class_recall=0.4, min_class_precision=0.3)
  return create_eval_config(config, CLASSES)


@pytest.mark.parametrize(
  "metric, gated",
  [(metrics.Top1Precision(), True), (metrics.Top1Recall(), True), (metrics.Top1F1Score(), False)],
  ids=["precision", "recall", "f1_score"],
)
def test_results_are_keyed_by_class_id_as_the_gates_look_them_up(metric, gated, eval_config):
  computations = _computations(metric, eval_config)
  results = {k for c in computations for k in c.keys if k.name == metric.name}
  assert results == {
    metric_types.MetricKey(name=metric.name, sub_key=metric_types.SubKey(class_id=i))
    for i in range(CLASSES)
  }
  thresholds = tfma.metrics.metric_thresholds_from_metrics_specs(
    eval_config.metrics_specs, eval_config
  )
  assert results <= set(thresholds) if gated else not results & set(thresholds)
  # What they derive from: the top-1 multi-class matrix, the very computation the confusion
  # matrix plot makes (TFMA computes identical computations once).
  matrices = [c for c in computations if not isinstance(c, metric_types.DerivedMetricComputation)]
  (plot,) = tfma.metrics.MultiClassConfusionMatrixPlot().computations(
    eval_config=eval_config, model_names=[""], output_names=[""]
  )[:1]
  assert matrices == [plot]


def _matrix(entries):
  """A top-1 multi-class matrix from {(actual, predicted): count}."""
  return multi_class.Matrices(
    {0.0: {multi_class.MatrixEntryKey(a, p): float(n) for (a, p), n in entries.items()}}
  )


# Class 1: 8 right, 2 of class 0 and 0 of class 2 predicted as 1, 4 of class 1 predicted as 2.
ENTRIES = {(0, 0): 20, (0, 1): 2, (1, 1): 8, (1, 2): 4, (2, 2): 10, (2, 0): 1}


@pytest.mark.parametrize(
  "metric, class_id, value",
  [
    (metrics.Top1Precision(), 1, 8 / (8 + 2)),
    (metrics.Top1Recall(), 1, 8 / (8 + 4)),
    (metrics.Top1F1Score(), 1, 2 * 8 / (2 * 8 + 2 + 4)),
    (metrics.Top1Recall(), 0, 20 / 22),
    (metrics.Top1Precision(), 2, 10 / 14),
  ],
  ids=["precision", "recall", "f1_score", "recall-0", "precision-2"],
)
def test_values_are_the_matrix_figures(metric, class_id, value, eval_config):
  """Each class's figure under its class-id key, counted from the matrix by hand."""
  computations = _computations(metric, eval_config)
  (derived,) = [c for c in computations if isinstance(c, metric_types.DerivedMetricComputation)]
  (matrix_key,) = [k for c in computations if c is not derived for k in c.keys]
  found = derived.result({matrix_key: _matrix(ENTRIES)})
  key = metric_types.MetricKey(name=metric.name, sub_key=metric_types.SubKey(class_id=class_id))
  assert found[key] == pytest.approx(value)
  assert len(found) == CLASSES


def test_a_class_never_predicted_has_no_precision(eval_config):
  computations = _computations(metrics.Top1Precision(), eval_config)
  (derived,) = [c for c in computations if isinstance(c, metric_types.DerivedMetricComputation)]
  (matrix_key,) = [k for c in computations if c is not derived for k in c.keys]
  found = derived.result({matrix_key: _matrix({(0, 0): 3, (1, 0): 2, (2, 2): 1})})
  by_class = {k.sub_key.class_id: v for k, v in found.items()}
  assert math.isnan(by_class[1]) and by_class[0] == pytest.approx(3 / 5) and by_class[2] == 1.0
