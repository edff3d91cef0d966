"""The pipeline's node ids: create_pipeline gives each component its id from here (`with_id`),
and every reader of a run's record (reporting/, the console, the runners) asks for it by the
same constant, so a renamed node breaks a test rather than a report."""

EXAMPLE_GEN = "ImageExampleGen"
STATISTICS_GEN = "StatisticsGen"
SCHEMA_GEN = "ImportSchemaGen"
EXAMPLE_VALIDATOR = "ExampleValidator"
DRIFT_CHECK = "DriftCheck"
TRANSFORM = "Transform"
TUNER = "Tuner"
TRAINER = "Trainer"
LABEL_ISSUES = "LabelIssues"  # a second Trainer: out-of-fold probabilities of the train split
EVALUATOR = "Evaluator"
SERVING_CHECK = "ServingCheck"
TFLITE_EXPORT = "TFLiteExport"
PUSHER = "ServingPusher"
ENDPOINT_PUSHER = "VertexEndpointPusher"
INFERENCE_EXAMPLE_GEN = "InferenceExampleGen"
BULK_INFERRER = "BulkInferrer"
RUN_REPORT = "RunReport"
EXIT_HANDLER = "RunRecordOnExit"

# Resolvers: metadata lookups, done at once (the console says nothing of them).
RESOLVER_SUFFIX = "_resolver"
PREVIOUS_STATISTICS_RESOLVER = "previous_statistics_resolver"
SPAN_WINDOW_RESOLVER = "span_window_resolver"
WARM_START_RESOLVER = "warm_start_model_resolver"  # the latest blessed model (other data)
SERVED_MODEL_RESOLVER = "served_model_resolver"  # the Evaluator's baseline

# Stages in the order a run reaches them (the run record lists them in this order).
STAGES = (
  EXAMPLE_GEN,
  STATISTICS_GEN,
  SCHEMA_GEN,
  EXAMPLE_VALIDATOR,
  DRIFT_CHECK,
  TRANSFORM,
  TUNER,
  TRAINER,
  LABEL_ISSUES,
  EVALUATOR,
  SERVING_CHECK,
  TFLITE_EXPORT,
  PUSHER,
  ENDPOINT_PUSHER,
  INFERENCE_EXAMPLE_GEN,
  BULK_INFERRER,
  RUN_REPORT,
)
# The Beam stages that say nothing while they run (ImageExampleGen counts the files it has
# checked, the Trainer prints a line per epoch): the console says how long they have run.
BEAM_STAGES = (STATISTICS_GEN, TRANSFORM, EVALUATOR, BULK_INFERRER)
