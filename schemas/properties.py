"""Artifact custom properties that one stage sets and others read (the run record, the
resolvers, the Kubeflow spec's filters). TFX's own are named as TFX writes them."""

BLESSED = "blessed"  # ModelBlessing / InfraBlessing: 1 blessed, 0 not (TFX)
SPAN = "span"  # Examples: the span ingested (TFX)
PUSHED = "pushed"  # PushedModel: 1 pushed, 0 not (TFX)
PUSHED_VERSION = "pushed_version"  # PushedModel: the serving version (TFX)
PUSHED_DESTINATION = "pushed_destination"  # PushedModel: the version's folder (TFX)
TFLITE_PUSHED = "tflite_pushed"  # PushedModel: the TFLite files went with it
PREVIOUS_VERSION = "previous_version"  # PushedModel: the newest version before the push
NEW_VERSION = "new_version"  # PushedModel: 1 wrote a version, 0 the model was already served
MODEL_URI = "model_uri"  # PushedModel: the Trainer's Model artifact it serves
RUN_ID = "run_id"  # PushedModel: the pipeline run that pushed it
PASSED = "passed"  # TFLiteModel: every format's parity gate passed
PASSED_FORMATS = "passed_formats"  # TFLiteModel: the formats that passed, comma-separated


def pushed_format(fmt: str) -> str:
  """PushedModel: 1 when the export format's folder went with it (TFLITE_PUSHED for tflite)."""
  return f"{fmt}_pushed"
