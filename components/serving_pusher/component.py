"""ServingPusher: TFX's Pusher with an executor that writes a complete TF Serving base path."""

from tfx import v1 as tfx
from tfx.dsl.components.base import executor_spec

from components.serving_pusher import executor


class ServingPusher(tfx.components.Pusher):
  """Pushes a blessed model to `<base_directory>/<version>/`, atomically on local disks.

  Takes the same inputs as TFX's Pusher; with a ServingCheck blessing as `infra_blessing` it
  pushes the checked copy that carries TF Serving warmup requests. Beside the versions it
  writes `models.config`, `batching_parameters.txt`, `request.json` (a real image as a REST
  body) and `README.md` with the docker and curl commands. `custom_config` may set
  `model_name` (default "model") and `max_batch_size` (default 64).
  """

  EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)
