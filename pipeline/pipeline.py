"""create_pipeline: the image-classification pipeline, ingestion to push, for every orchestrator."""

import os
from typing import Optional

# TFMA 0.52 no longer re-exports its config protos at the top level (tfma.EvalConfig is gone).
from tensorflow_model_analysis.proto import config_pb2 as tfma
from tfx import v1 as tfx
from tfx.orchestration.data_types import RuntimeParameter

from components.drift_check import DriftCheck
from components.evaluator import Evaluator
from components.evaluator import metrics as evaluator_metrics
from components.image_example_gen import ImageExampleGen, sources
from components.serving_check import ServingCheck
from components.serving_pusher import ServingPusher
from components.tflite_export import TFLiteExport
from pipeline import base_model, spans
from pipeline.cloud import VERTEX, CloudConfig
from pipeline.configs import PipelineConfig
from reporting import inference
from reporting.component import RunReport
from schemas import SCHEMA_PATH
from trainer_module.constants import (
  BULK_INFERENCE_SIGNATURE,
  LABEL_KEY,
  LABEL_XF,
  PREDICTION_KEY,
  SERVING_EXAMPLES_SIGNATURE,
  TOP_K_ACCURACY,
  TRANSFORM_SIGNATURE,
)

PREPROCESSING_FN = "trainer_module.preprocessing.preprocessing_fn"
RUN_FN = "trainer_module.train.run_fn"
TUNER_FN = "trainer_module.tuning.tuner_fn"


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
  """Gates: overall accuracy (bound, and change against the last blessed model) and every
  class's recall and precision on top-1 predictions. Also computed, for analysis: per-class F1,
  the multi-class confusion matrix, the calibration of the top probability (binarized by
  top-1 hit) and, with TOP_K_MIN_CLASSES classes or more, top-5 accuracy (TFMA's Recall on the
  top 5: how often the true class is among them)."""
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
              class_name="Recall", config=f'"top_k": {TOP_K}, "name": "{TOP_K_ACCURACY}"'
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
        binarize=tfma.BinarizationOptions(top_k_list={"values": [1]}),
        metrics=[
          tfma.MetricConfig(class_name="Calibration"),
          tfma.MetricConfig(class_name="CalibrationPlot"),
        ],
      ),
    ],
  )


def create_pipeline(
  config: PipelineConfig,
  source: sources.Source,
  num_classes: Optional[int] = None,
  metadata_connection_config: Optional[object] = None,
  schema_path: str = SCHEMA_PATH,
  cloud: Optional[CloudConfig] = None,
  data_root: Optional[RuntimeParameter] = None,
  ui_report: bool = False,
  kubeflow_v2: bool = False,
  infer_source: Optional[sources.Source] = None,
) -> tfx.dsl.Pipeline:
  """Builds the pipeline from the config and its described source (pipeline/inputs.py).

  `num_classes` (default: the source's classes) sizes the per-class gates. The Evaluator gates
  on the test split when there is one, else on eval. `cloud` (Kubeflow / Vertex runs) moves the
  Beam stages to Dataflow, the Trainer to Vertex AI training and adds a Vertex endpoint push.
  `data_root` (Kubeflow runs) makes the ingested folder a pipeline parameter. `ui_report` adds
  a last stage whose confusion matrix and model card the Kubeflow / Vertex AI UI shows.
  `kubeflow_v2`: built for KubeflowV2DagRunner, whose compiler takes latest-artifact and
  latest-blessed-model resolvers only (pipeline/spans.py).
  `infer_source` (default: `config.infer_dir` described) adds batch inference (--infer-dir).
  """
  example_gen = ImageExampleGen(
    config.data_dir,
    splits=config.splits,
    max_image_pixels=config.max_image_pixels,
    min_image_size=config.min_image_size,
    classes=config.classes,
    source=source,
    input_base=data_root,
    keep_duplicates=config.keep_duplicates,
  )
  has_test = (
    any(s.name == "test" for s in source.input_config.splits)
    if source.presplit
    else "test" in config.splits
  )
  statistics_gen = tfx.components.StatisticsGen(examples=example_gen.outputs["examples"])
  schema_gen = tfx.components.ImportSchemaGen(schema_file=schema_path)
  example_validator = tfx.components.ExampleValidator(
    statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"]
  )
  previous_statistics = spans.previous_statistics_resolver(statistics_gen, kubeflow_v2)
  drift_check = DriftCheck(
    statistics=statistics_gen.outputs["statistics"],
    baseline_statistics=previous_statistics.outputs["statistics"],
    label_threshold=config.label_drift_threshold,
    image_threshold=config.image_drift_threshold,
    on_drift=config.on_drift,
  )
  window = spans.resolver(example_gen, config.span_window) if config.span_window > 1 else None
  transform = tfx.components.Transform(
    examples=window.outputs["examples"] if window else example_gen.outputs["examples"],
    schema=schema_gen.outputs["schema"],
    preprocessing_fn=PREPROCESSING_FN,
    # No pre/post-transform statistics: nothing reads them, they cost two passes over the
    # data, and StatisticsGen stays the pipeline's only ExampleStatistics producer, which the
    # previous-statistics resolver (locally and on Vertex) selects by type.
    disable_statistics=True,
    custom_config={
      "image_size": config.image_size,
      "channels": config.channels,
      "resize": config.resize,
    },
  )
  transform.add_upstream_node(drift_check)  # a blocking drift stops the run before training
  # The last blessed model: the Evaluator's baseline (and, compiled for Kubeflow V2, the
  # Trainer's starting point; locally the latest blessed one trained on other data).
  baseline_resolver = tfx.dsl.Resolver(
    strategy_class=tfx.dsl.experimental.LatestBlessedModelStrategy,
    model=tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model),
    model_blessing=tfx.dsl.Channel(type=tfx.types.standard_artifacts.ModelBlessing),
  ).with_id("latest_blessed_model_resolver")
  warm_start = None
  if config.warm_start == "auto":
    warm_start = baseline_resolver if kubeflow_v2 else base_model.resolver(transform)
  training_config = config.custom_config()  # the TrainingConfig part
  tuner = (
    tfx.components.Tuner(
      tuner_fn=TUNER_FN,
      examples=transform.outputs["transformed_examples"],
      transform_graph=transform.outputs["transform_graph"],
      schema=schema_gen.outputs["schema"],
      custom_config=training_config,
    )
    if config.tune
    else None
  )
  trainer_class = tfx.components.Trainer
  if cloud and cloud.vertex_training:
    trainer_class = VERTEX.Trainer
    training_config = {**training_config, **cloud.training_config()}
  trainer = trainer_class(
    run_fn=RUN_FN,
    examples=transform.outputs["transformed_examples"],
    transform_graph=transform.outputs["transform_graph"],
    schema=schema_gen.outputs["schema"],
    hyperparameters=tuner.outputs["best_hyperparameters"] if tuner else None,
    base_model=warm_start.outputs["model"] if warm_start else None,
    custom_config=training_config,
  )
  gate_split = "test" if has_test else "eval"
  evaluator = Evaluator(
    examples=example_gen.outputs["examples"],
    model=trainer.outputs["model"],
    baseline_model=baseline_resolver.outputs["model"],
    example_splits=[gate_split],
    eval_config=create_eval_config(config, num_classes or len(source.classes)),
  )
  serving_check = ServingCheck(
    model=trainer.outputs["model"],
    examples=example_gen.outputs["examples"],
    split=gate_split,
    num_requests=config.warmup_requests,
    model_name=config.pipeline_name,
    max_batch_size=config.max_batch_size,
  )
  tflite_export = TFLiteExport(
    model=trainer.outputs["model"],
    examples=example_gen.outputs["examples"],
    model_blessing=evaluator.outputs["blessing"],
    gate_split=gate_split,
  )
  pusher = ServingPusher(
    model_blessing=evaluator.outputs["blessing"],
    infra_blessing=serving_check.outputs["blessing"],  # the checked model, with warmup
    tflite_model=tflite_export.outputs["tflite_model"],  # pushed when its parity passed
    push_destination=tfx.proto.PushDestination(
      filesystem=tfx.proto.PushDestination.Filesystem(base_directory=config.serving_model_dir)
    ),
    custom_config={
      "model_name": config.pipeline_name,
      "max_batch_size": config.max_batch_size,
      "keep_versions": config.keep_versions,
    },
  )
  endpoint_pusher = (
    VERTEX.Pusher(
      model_blessing=evaluator.outputs["blessing"],
      infra_blessing=serving_check.outputs["blessing"],
      custom_config=cloud.endpoint_config(),
    ).with_id("VertexEndpointPusher")
    if (cloud and cloud.vertex_endpoint)
    else None
  )
  infer_example_gen, bulk_inferrer = None, None
  if config.infer_dir:
    # Batch inference: the unlabelled images ingested as the training data is (same checks and
    # rejection reasons, every copy of an image scored), then TFX's BulkInferrer on the
    # bulk_inference signature; it scores only a model the Evaluator blessed.
    infer_example_gen = ImageExampleGen(
      config.infer_dir,
      max_image_pixels=config.max_image_pixels,
      min_image_size=config.min_image_size,
      source=infer_source or sources.describe_unlabelled(config.infer_dir),
      keep_duplicates=True,
      unlabelled=True,
    ).with_id(inference.EXAMPLE_GEN)
    bulk_inferrer = tfx.components.BulkInferrer(
      examples=infer_example_gen.outputs["examples"],
      model=trainer.outputs["model"],
      model_blessing=evaluator.outputs["blessing"],
      data_spec=tfx.proto.DataSpec(example_splits=[sources.INFER_SPLIT]),
      model_spec=tfx.proto.ModelSpec(model_signature_name=[BULK_INFERENCE_SIGNATURE]),
    ).with_id(inference.BULK_INFERRER)
    bulk_inferrer.add_upstream_node(pusher)  # after the push decision
  run_report = (
    RunReport(
      pipeline_name=config.pipeline_name,
      data_dir=data_root or config.data_dir,
      examples=example_gen.outputs["examples"],
      transform_graph=transform.outputs["transform_graph"],
      model=trainer.outputs["model"],
      model_run=trainer.outputs["model_run"],
      evaluation=evaluator.outputs["evaluation"],
      blessing=evaluator.outputs["blessing"],
      infra_blessing=serving_check.outputs["blessing"],
      anomalies=example_validator.outputs["anomalies"],
      pushed_model=pusher.outputs["pushed_model"],
      inference_examples=infer_example_gen.outputs["examples"] if infer_example_gen else None,
      inference_result=bulk_inferrer.outputs["inference_result"] if bulk_inferrer else None,
    )
    if ui_report
    else None
  )
  if cloud and cloud.dataflow:
    beam_stages = (example_gen, statistics_gen, transform, evaluator)
    for component in beam_stages + tuple(c for c in (infer_example_gen, bulk_inferrer) if c):
      component.with_beam_pipeline_args(cloud.dataflow_args(os.path.join(config.output_dir, "tmp")))
  return tfx.dsl.Pipeline(
    pipeline_name=config.pipeline_name,
    pipeline_root=config.pipeline_root,
    components=[
      c
      for c in (
        example_gen,
        statistics_gen,
        schema_gen,
        example_validator,
        previous_statistics,
        drift_check,
        window,
        transform,
        tuner,
        warm_start if warm_start is not baseline_resolver else None,
        trainer,
        baseline_resolver,
        evaluator,
        serving_check,
        tflite_export,
        pusher,
        endpoint_pusher,
        infer_example_gen,
        bulk_inferrer,
        run_report,
      )
      if c is not None
    ],
    enable_cache=config.enable_cache,
    metadata_connection_config=metadata_connection_config,
    beam_pipeline_args=config.beam_pipeline_args,
  )
