"""The Top1 metrics through TFMA's public Metric.computations: keyed as the pipeline's gates
look them up, derived from top-1 confusion matrices, with TFMA's values."""

import pytest
import tensorflow_model_analysis as tfma
from tensorflow_model_analysis.metrics import binary_confusion_matrices, metric_types

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
  # What they derive from: top-1 confusion matrices at a threshold of 0.
  matrices = {k for c in computations for k in c.keys if k.name != metric.name}
  assert matrices and {k.name for k in matrices} == {"_binary_confusion_matrices:thresholds=[0.0]"}
  assert {k.sub_key for k in matrices} == {
    metric_types.SubKey(class_id=i, top_k=1) for i in range(CLASSES)
  }


@pytest.mark.parametrize(
  "metric, value",
  [
    (metrics.Top1Precision(), 8 / (8 + 2)),
    (metrics.Top1Recall(), 8 / (8 + 4)),
    (metrics.Top1F1Score(), 2 * 8 / (2 * 8 + 2 + 4)),
  ],
  ids=["precision", "recall", "f1_score"],
)
def test_values_are_tfmas_figures_of_the_matrices(metric, value, eval_config):
  """8 right, 2 predicted but wrong, 4 missed: the figure under the class-id key."""
  computations = _computations(metric, eval_config)
  (derived,) = [
    c
    for c in computations
    if any(k.name == metric.name and k.sub_key.class_id == 1 for k in c.keys)
  ]
  matrices = {
    k: binary_confusion_matrices.Matrices(thresholds=[0.0], tp=[8.0], tn=[30.0], fp=[2.0], fn=[4.0])
    for c in computations
    for k in c.keys
    if k.name.startswith("_binary_confusion_matrices") and k.sub_key.class_id == 1
  }
  key = metric_types.MetricKey(name=metric.name, sub_key=metric_types.SubKey(class_id=1))
  assert derived.result(matrices) == {key: pytest.approx(value)}


def test_class_key_drops_the_top_k_only():
  key = metric_types.MetricKey(
    name="recall", model_name="m", sub_key=metric_types.SubKey(class_id=3, top_k=1)
  )
  assert metrics.class_key(key) == metric_types.MetricKey(
    name="recall", model_name="m", sub_key=metric_types.SubKey(class_id=3)
  )
  top_k_only = metric_types.MetricKey(name="recall", sub_key=metric_types.SubKey(top_k=1))
  assert metrics.class_key(top_k_only) == metric_types.MetricKey(name="recall")
  assert metrics.class_key(metrics.class_key(key)) == metrics.class_key(key)
