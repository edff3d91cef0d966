"""DriftCheck: compares the new data's statistics with the previous run's, before training."""

from typing import Optional

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.proto import distribution_validator_pb2
from tfx.types import standard_artifacts
from tfx.types import standard_component_specs as spec
from tfx.types.component_spec import ChannelParameter, ExecutionParameter
from tfx.utils import json_utils

from components.drift_check import executor
from schemas.features import LABEL_KEY

IMAGE_FEATURES = ("width", "height", "channels", "brightness")  # recorded by ImageExampleGen


class DriftCheckSpec(types.ComponentSpec):
  PARAMETERS = {
    **spec.DistributionValidatorSpec.PARAMETERS,
    executor.ON_DRIFT_KEY: ExecutionParameter(type=str),
  }
  INPUTS = {
    spec.STATISTICS_KEY: ChannelParameter(type=standard_artifacts.ExampleStatistics),
    # Empty on a first run: nothing to compare with.
    spec.BASELINE_STATISTICS_KEY: ChannelParameter(
      type=standard_artifacts.ExampleStatistics, optional=True
    ),
  }
  OUTPUTS = spec.DistributionValidatorSpec.OUTPUTS


def drift_config(
  label_threshold: float, image_threshold: float
) -> distribution_validator_pb2.DistributionValidatorConfig:
  """The label distribution by L-infinity distance, the images' width, height, channels and
  mean brightness by Jensen-Shannon divergence; a threshold of 0 leaves its features out."""
  config = distribution_validator_pb2.DistributionValidatorConfig()
  slice_config = config.default_slice_config
  if label_threshold:
    feature = slice_config.feature.add()
    feature.path.step.append(LABEL_KEY)
    feature.distribution_comparator.infinity_norm.threshold = label_threshold
  if image_threshold:
    for name in IMAGE_FEATURES:
      feature = slice_config.feature.add()
      feature.path.step.append(name)
      feature.distribution_comparator.jensen_shannon_divergence.threshold = image_threshold
  return config


class DriftCheck(base_component.BaseComponent):
  """TFX's DistributionValidator on the training split, and then:

  `drift.json` beside the anomalies names each compared feature with its distance, threshold
  and whether it drifted, and the two statistics compared (with their spans); a line per
  drifted feature is printed; with on_drift="block" a drift stops the run here (the stages
  that train run after this one), with DriftBlocked.
  """

  SPEC_CLASS = DriftCheckSpec
  EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

  def __init__(
    self,
    statistics: types.BaseChannel,
    baseline_statistics: Optional[types.BaseChannel],
    label_threshold: float = 0.1,
    image_threshold: float = 0.1,
    on_drift: str = "warn",
  ):
    super().__init__(
      spec=DriftCheckSpec(
        statistics=statistics,
        baseline_statistics=baseline_statistics,
        distribution_validator_config=drift_config(label_threshold, image_threshold),
        include_split_pairs=json_utils.dumps([("train", "train")]),
        on_drift=on_drift,
        anomalies=types.Channel(type=standard_artifacts.ExampleAnomalies),
      )
    )
