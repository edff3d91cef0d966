"""Every executor task's command in the compiled spec (pipeline/kfp_spec.py): TFX's Kubeflow V2
executor entry point, with TFX and the task's executor module (TensorFlow, Beam, TFMA...) imported
under heavy_imports.frozen(). TFX's own module imports them with the garbage collector on, which
walks the imports' objects a dozen times: each task's start pays for it, as local_runner.py's did.
The arguments, the flags parsed and everything the task writes are TFX's.

  python -m pipeline.kfp_executor --executor_class_path <module>.<Class> \
      --json_serialized_invocation_args '{...}' [Beam flags]
"""

from typing import Any, List, Tuple

from pipeline import heavy_imports


def import_executor(parsed: Tuple[Any, List[str]]) -> None:
  """Imports the executor class TFX's flags parser found (`parsed`: its (args, Beam args)), as
  TFX's entry point then does, with the collector off and its objects frozen after."""
  from tfx.utils import import_utils  # noqa: PLC0415  (TFX: the task's own imports)

  with heavy_imports.frozen():
    import_utils.import_class_by_path(parsed[0].executor_class_path)


def main() -> None:
  with heavy_imports.frozen():
    from absl import app  # noqa: PLC0415  (imported frozen, like everything after it)
    from tfx.orchestration.kubeflow.v2.container import (  # noqa: PLC0415
      kubeflow_v2_run_executor as entry,
    )

  def run(parsed: Tuple[Any, List[str]]) -> None:
    import_executor(parsed)
    entry.main(parsed)

  app.run(run, flags_parser=entry._parse_flags)  # noqa: SLF001  (TFX's own flags)


if __name__ == "__main__":
  main()
