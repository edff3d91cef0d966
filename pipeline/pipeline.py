"""create_pipeline: the image-classification pipeline, ingestion to push, for every orchestrator.

Four parts, each a function: ingest (ImageExampleGen, statistics, schema, validation, drift),
train (Transform, Tuner, Trainer, LabelIssues), gate and push (Evaluator against the served model, serving
check, TFLite, ServingPusher), infer (--infer-dir: InferenceExampleGen, BulkInferrer). Every node
id is schemas/nodes.py's.
"""

import dataclasses
import os
from typing import List, Optional

import tensorflow_data_validation as tfdv
from tensorflow_metadata.proto.v0 import schema_pb2
from tfx import v1 as tfx
from tfx.orchestration.data_types import RuntimeParameter

from components.bulk_inferrer import BulkInferrer
from components.drift_check import DriftCheck
from components.evaluator import Evaluator
from components.image_example_gen import ImageExampleGen, sources
from components.serving_check import ServingCheck
from components.serving_pusher import ServingPusher
from components.tflite_export import TFLiteExport
from pipeline import resolvers, spans
from pipeline.cloud import CloudConfig, vertex
from pipeline.configs import PipelineConfig
from pipeline.eval_config import create_eval_config
from reporting.component import RunReport
from schemas import SCHEMA_PATH, filenames, nodes
from schemas.features import BULK_INFERENCE_SIGNATURE
from schemas.settings import LABEL_ISSUE_FOLDS_KEY

PREPROCESSING_FN = "trainer_module.preprocessing.preprocessing_fn"
RUN_FN = "trainer_module.train.run_fn"
LABEL_ISSUES_FN = "trainer_module.out_of_fold.run_fn"  # LabelIssues' Trainer
TUNER_FN = "trainer_module.tuning.tuner_fn"


@dataclasses.dataclass(frozen=True)
class Target:
  """Where the pipeline runs: LocalDagRunner (the default), or a spec compiled for Kubeflow
  Pipelines v2 / Vertex AI, whose compiler takes latest-artifact and latest-blessed-model
  resolvers only (pipeline/resolvers.py), with `cloud` moving the Beam stages to Dataflow, the
  Trainer to Vertex AI training and adding a Vertex endpoint push, `data_root` making the
  ingested folder a pipeline parameter, and a last stage (RunReport) whose confusion matrix and
  model card the UI shows."""

  kubeflow_v2: bool = False
  cloud: Optional[CloudConfig] = None
  data_root: Optional[RuntimeParameter] = None


LOCAL = Target()


def kubeflow(cloud: Optional[CloudConfig] = None, data_root=None) -> Target:
  return Target(kubeflow_v2=True, cloud=cloud, data_root=data_root)


@dataclasses.dataclass
class _Ingested:
  example_gen: ImageExampleGen
  schema_gen: object
  components: List[object]
  gate_split: str


def statistics_options() -> tfdv.StatsOptions:
  """Statistics of the features the schema validates, read as the schema types them (the image
  as bytes): not of those it marks DEBUG_ONLY (file_name and sha256, one value per image, whose
  top values and unique counts cost StatisticsGen as much as all the rest and say nothing)."""
  schema = tfdv.load_schema_text(SCHEMA_PATH)
  return tfdv.StatsOptions(
    feature_allowlist=[
      f.name for f in schema.feature if f.lifecycle_stage != schema_pb2.LifecycleStage.DEBUG_ONLY
    ]
  )


def _ingest(config: PipelineConfig, source: sources.Source, target: Target) -> _Ingested:
  """ImageExampleGen, statistics, the curated schema, validation, and drift against the
  previous span's statistics."""
  example_gen = ImageExampleGen(
    config.data_dir,
    splits=config.splits,
    max_image_pixels=config.max_image_pixels,
    min_image_size=config.min_image_size,
    classes=config.classes,
    source=source,
    input_base=target.data_root,
    keep_duplicates=config.keep_duplicates,
  ).with_id(nodes.EXAMPLE_GEN)
  split_names = (
    [s.name for s in source.input_config.splits] if source.presplit else list(config.splits)
  )
  schema_gen = tfx.components.ImportSchemaGen(schema_file=SCHEMA_PATH).with_id(nodes.SCHEMA_GEN)
  statistics_gen = tfx.components.StatisticsGen(
    examples=example_gen.outputs["examples"],
    schema=schema_gen.outputs["schema"],
    stats_options=statistics_options(),
  ).with_id(nodes.STATISTICS_GEN)
  example_validator = tfx.components.ExampleValidator(
    statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"]
  ).with_id(nodes.EXAMPLE_VALIDATOR)
  previous_statistics = spans.previous_statistics_resolver(statistics_gen, target.kubeflow_v2)
  drift_check = DriftCheck(
    statistics=statistics_gen.outputs["statistics"],
    baseline_statistics=previous_statistics.outputs["statistics"],
    label_threshold=config.label_drift_threshold,
    image_threshold=config.image_drift_threshold,
    on_drift=config.on_drift,
  ).with_id(nodes.DRIFT_CHECK)
  return _Ingested(
    example_gen,
    schema_gen,
    [example_gen, statistics_gen, schema_gen, example_validator, previous_statistics, drift_check],
    filenames.gate_split(split_names),
  )


def transform_component(examples, schema, image_size: int, channels: int, resize: str):
  """Transform: decode, resize, label ids (trainer_module/preprocessing.py), without the
  pre/post-transform statistics (two more passes over the data that nothing reads; StatisticsGen
  stays the only ExampleStatistics producer, which the previous-statistics resolver selects by
  type) and without the analyzer cache (written for a later Transform's `analyzer_cache` input,
  which this pipeline does not wire: about 1.2 s of a small run, and with it TFT analyses each
  span of a window apart)."""
  return tfx.components.Transform(
    examples=examples,
    schema=schema,
    preprocessing_fn=PREPROCESSING_FN,
    disable_statistics=True,
    disable_analyzer_cache=True,
    custom_config={"image_size": image_size, "channels": channels, "resize": resize},
  ).with_id(nodes.TRANSFORM)


def _train(config: PipelineConfig, ingested: _Ingested, target: Target):
  """Transform (after DriftCheck: a blocking drift stops the run before training), the Tuner
  with --tune, the Trainer, warm-started from the latest blessed model, and with
  --find-label-issues LabelIssues."""
  window = (
    spans.resolver(ingested.example_gen, config.span_window) if config.span_window > 1 else None
  )
  transform = transform_component(
    (window or ingested.example_gen).outputs["examples"],
    ingested.schema_gen.outputs["schema"],
    image_size=config.image_size,
    channels=config.channels,
    resize=config.resize,
  )
  transform.add_upstream_node(ingested.components[-1])  # DriftCheck
  warm_start = None
  if config.warm_start == "auto":
    warm_start = (
      resolvers.latest_blessed_resolver()
      if target.kubeflow_v2
      else resolvers.warm_start_resolver(transform)
    )
  training_config = config.custom_config()  # the TrainingConfig part
  tuner = (
    tfx.components.Tuner(
      tuner_fn=TUNER_FN,
      examples=transform.outputs["transformed_examples"],
      transform_graph=transform.outputs["transform_graph"],
      schema=ingested.schema_gen.outputs["schema"],
      custom_config=training_config,
    ).with_id(nodes.TUNER)
    if config.tune
    else None
  )
  trainer_class = tfx.components.Trainer
  if target.cloud and target.cloud.vertex_training:
    trainer_class = vertex().Trainer
    training_config = {**training_config, **target.cloud.training_config()}
  trainer = trainer_class(
    run_fn=RUN_FN,
    examples=transform.outputs["transformed_examples"],
    transform_graph=transform.outputs["transform_graph"],
    schema=ingested.schema_gen.outputs["schema"],
    hyperparameters=tuner.outputs["best_hyperparameters"] if tuner else None,
    base_model=warm_start.outputs["model"] if warm_start else None,
    custom_config=training_config,
  ).with_id(nodes.TRAINER)
  # --find-label-issues: a second Trainer (the same class, so on Vertex AI training too) trains
  # a model per fold of the newest span's train split, with the same settings, on raw examples
  # (they keep each image's path) through Transform's graph: out-of-fold probabilities.
  label_issues = (
    trainer_class(
      run_fn=LABEL_ISSUES_FN,
      examples=ingested.example_gen.outputs["examples"],
      transform_graph=transform.outputs["transform_graph"],
      schema=ingested.schema_gen.outputs["schema"],
      hyperparameters=tuner.outputs["best_hyperparameters"] if tuner else None,
      custom_config={**training_config, LABEL_ISSUE_FOLDS_KEY: config.label_issue_folds},
    ).with_id(nodes.LABEL_ISSUES)
    if config.find_label_issues
    else None
  )
  stages = (window, transform, tuner, warm_start, trainer, label_issues)
  return transform, trainer, [c for c in stages if c]


def _gate_and_push(
  config: PipelineConfig, ingested: _Ingested, trainer, num_classes: int, target: Target
):
  """The Evaluator against the served model, the serving check, the exports of --export
  (blessed models), and the push (both blessings); with `cloud.vertex_endpoint`, a Vertex
  endpoint push too."""
  examples = ingested.example_gen.outputs["examples"]
  served = resolvers.served_model_resolver(trainer, nodes.PUSHER, target.kubeflow_v2)
  evaluator = Evaluator(
    examples=examples,
    model=trainer.outputs["model"],
    served_model=served.outputs[resolvers.SERVED_MODEL],
    example_splits=[ingested.gate_split],
    eval_config=create_eval_config(config, num_classes),
  ).with_id(nodes.EVALUATOR)
  serving_check = ServingCheck(
    model=trainer.outputs["model"],
    examples=examples,
    split=ingested.gate_split,
    num_requests=config.warmup_requests,
    model_name=config.pipeline_name,
    max_batch_size=config.max_batch_size,
  ).with_id(nodes.SERVING_CHECK)
  tflite_export = (
    TFLiteExport(
      model=trainer.outputs["model"],
      examples=examples,
      model_blessing=evaluator.outputs["blessing"],
      formats=config.export,
      gate_split=ingested.gate_split,
    ).with_id(nodes.TFLITE_EXPORT)
    if config.export
    else None
  )
  pusher = ServingPusher(
    model_blessing=evaluator.outputs["blessing"],
    infra_blessing=serving_check.outputs["blessing"],  # the checked model, with warmup
    # Each format whose parity passed goes into the version.
    tflite_model=tflite_export.outputs["tflite_model"] if tflite_export else None,
    push_destination=tfx.proto.PushDestination(
      filesystem=tfx.proto.PushDestination.Filesystem(base_directory=config.serving_model_dir)
    ),
    custom_config={
      "model_name": config.pipeline_name,
      "max_batch_size": config.max_batch_size,
      "keep_versions": config.keep_versions,
    },
  ).with_id(nodes.PUSHER)
  cloud = target.cloud
  endpoint_pusher = (
    vertex()
    .Pusher(
      model_blessing=evaluator.outputs["blessing"],
      infra_blessing=serving_check.outputs["blessing"],
      custom_config=cloud.endpoint_config(),
    )
    .with_id(nodes.ENDPOINT_PUSHER)
    if (cloud and cloud.vertex_endpoint)
    else None
  )
  stages = [served, evaluator, serving_check, tflite_export, pusher, endpoint_pusher]
  return evaluator, serving_check, pusher, [c for c in stages if c]


def _infer(config: PipelineConfig, trainer, pusher, infer_source: Optional[sources.Source]):
  """Batch inference (--infer-dir): the unlabelled images ingested as the training data is (same
  checks and rejection reasons, every copy of an image scored), then BulkInferrer on the
  bulk_inference signature, for the model that was pushed only."""
  infer_example_gen = ImageExampleGen(
    config.infer_dir,
    max_image_pixels=config.max_image_pixels,
    min_image_size=config.min_image_size,
    source=infer_source or sources.describe_unlabelled(config.infer_dir),
    keep_duplicates=True,
    unlabelled=True,
  ).with_id(nodes.INFERENCE_EXAMPLE_GEN)
  bulk_inferrer = BulkInferrer(
    examples=infer_example_gen.outputs["examples"],
    model=trainer.outputs["model"],
    pushed_model=pusher.outputs["pushed_model"],
    data_spec=tfx.proto.DataSpec(example_splits=[filenames.INFER_SPLIT]),
    model_spec=tfx.proto.ModelSpec(model_signature_name=[BULK_INFERENCE_SIGNATURE]),
  ).with_id(nodes.BULK_INFERRER)
  return infer_example_gen, bulk_inferrer


def create_pipeline(
  config: PipelineConfig,
  source: sources.Source,
  target: Target = LOCAL,
  num_classes: Optional[int] = None,
  metadata_connection_config: Optional[object] = None,
  infer_source: Optional[sources.Source] = None,
) -> tfx.dsl.Pipeline:
  """Builds the pipeline from the config and its described source (pipeline/inputs.py), for
  `target` (LOCAL, or kubeflow(...)).

  `num_classes` (default: the source's classes) sizes the per-class gates. The Evaluator gates
  on the test split when there is one, else on eval. `infer_source` (default: `config.infer_dir`
  described) adds batch inference (--infer-dir).
  """
  ingested = _ingest(config, source, target)
  transform, trainer, training = _train(config, ingested, target)
  evaluator, serving_check, pusher, gating = _gate_and_push(
    config, ingested, trainer, num_classes or len(source.classes), target
  )
  infer_example_gen, bulk_inferrer = (
    _infer(config, trainer, pusher, infer_source) if config.infer_dir else (None, None)
  )
  run_report = (
    RunReport(
      pipeline_name=config.pipeline_name,
      data_dir=target.data_root or config.data_dir,
      examples=ingested.example_gen.outputs["examples"],
      transform_graph=transform.outputs["transform_graph"],
      model=trainer.outputs["model"],
      model_run=trainer.outputs["model_run"],
      evaluation=evaluator.outputs["evaluation"],
      blessing=evaluator.outputs["blessing"],
      infra_blessing=serving_check.outputs["blessing"],
      anomalies=ingested.components[3].outputs["anomalies"],
      pushed_model=pusher.outputs["pushed_model"],
      inference_examples=infer_example_gen.outputs["examples"] if infer_example_gen else None,
      inference_result=bulk_inferrer.outputs["inference_result"] if bulk_inferrer else None,
    ).with_id(nodes.RUN_REPORT)
    if target.kubeflow_v2
    else None
  )
  if target.cloud and target.cloud.dataflow:
    beam_stages = [ingested.example_gen, ingested.components[1], transform, evaluator]
    for component in beam_stages + [c for c in (infer_example_gen, bulk_inferrer) if c]:
      component.with_beam_pipeline_args(
        target.cloud.dataflow_args(os.path.join(config.output_dir, "tmp"))
      )
  return tfx.dsl.Pipeline(
    pipeline_name=config.pipeline_name,
    pipeline_root=config.pipeline_root,
    components=[
      c
      for c in ingested.components
      + training
      + gating
      + [infer_example_gen, bulk_inferrer, run_report]
      if c is not None
    ],
    enable_cache=config.enable_cache,
    metadata_connection_config=metadata_connection_config,
    beam_pipeline_args=config.beam_pipeline_args,
  )
