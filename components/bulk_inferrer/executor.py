"""BulkInferrer executor: TFX's, after checking that the model was pushed."""

from absl import logging
from tfx.components.bulk_inferrer import executor as bulk_inferrer_executor
from tfx.types import artifact_utils

from schemas import properties

PUSHED_MODEL_KEY = "pushed_model"


def pushed(pushed_model, model) -> bool:
  """Whether ServingPusher's output pushed exactly this model."""
  return (
    pushed_model.get_int_custom_property(properties.PUSHED) == 1
    and pushed_model.get_string_custom_property(properties.MODEL_URI) == model.uri
  )


class Executor(bulk_inferrer_executor.Executor):
  """Writes no predictions for a model that was not pushed (the run record says so)."""

  def Do(self, input_dict, output_dict, exec_properties) -> None:
    pushed_model = artifact_utils.get_single_instance(input_dict[PUSHED_MODEL_KEY])
    model = artifact_utils.get_single_instance(input_dict["model"])
    if not pushed(pushed_model, model):
      logging.info("Model %s was not pushed: nothing scored", model.uri)
      return
    super().Do(
      {k: v for k, v in input_dict.items() if k != PUSHED_MODEL_KEY}, output_dict, exec_properties
    )
