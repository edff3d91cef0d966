"""Dependencies point one way: components and pipeline modules use the Trainer's names from
trainer_module.constants, never the Trainer's and Tuner's own modules (train.py and what it was
split into: they pull in Keras Tuner, tf.Transform and TFX's Trainer)."""

import ast
import glob
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRAINING_MODULES = {
  f"trainer_module.{name}" for name in ("train", "tuning", "datasets", "callbacks", "export")
}


def _imports(path):
  for node in ast.walk(ast.parse(open(path).read(), path)):
    if isinstance(node, ast.Import):
      yield from (alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom) and node.module:
      yield node.module
      yield from (f"{node.module}.{alias.name}" for alias in node.names)


def test_no_component_or_pipeline_module_imports_the_trainer_module():
  modules = [
    path
    for folder in ("components", "pipeline")
    for path in glob.glob(os.path.join(ROOT, folder, "**", "*.py"), recursive=True)
    if not path.endswith("_test.py")
  ]
  assert len(modules) > 20
  offenders = {
    os.path.relpath(path, ROOT) for path in modules if TRAINING_MODULES & set(_imports(path))
  }
  assert offenders == set()
