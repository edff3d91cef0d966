"""Every executor task's command in the compiled spec (pipeline/kfp_spec.py): TFX's Kubeflow V2
executor entry point, with TFX and the task's executor module (TensorFlow, Beam, TFMA...) imported
under heavy_imports.frozen(). TFX's own module imports them with the garbage collector on, which
walks the imports' objects a dozen times: each task's start pays for it, as local_runner.py's did.
The arguments, the flags parsed and everything the task writes are TFX's.

  python -m pipeline.kfp_executor --executor_class_path <module>.<Class> \
      --json_serialized_invocation_args '{...}' [Beam flags]
"""

import importlib
import sys
from typing import Optional, Sequence

from pipeline import heavy_imports

FLAG = "--executor_class_path"


def executor_module(argv: Sequence[str]) -> Optional[str]:
  """The module of the executor class the task's arguments name, or None when they name none
  (TFX's parser then says what is missing)."""
  for i, arg in enumerate(argv):
    if arg.startswith(FLAG + "="):
      path = arg.split("=", 1)[1]
    elif arg == FLAG and i + 1 < len(argv):
      path = argv[i + 1]
    else:
      continue
    return path.rpartition(".")[0] or None
  return None


def main() -> None:
  with heavy_imports.frozen():
    from absl import app  # noqa: PLC0415  (imported frozen, like everything after it)
    from tfx.orchestration.kubeflow.v2.container import (  # noqa: PLC0415
      kubeflow_v2_run_executor as entry,
    )

    module = executor_module(sys.argv)
    if module:
      importlib.import_module(module)
  app.run(entry.main, flags_parser=entry._parse_flags)  # noqa: SLF001  (TFX's own flags)


if __name__ == "__main__":
  main()
