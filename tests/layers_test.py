"""The project's import layering, read from every module's source (imports inside functions
included): runners -> pipeline -> reporting -> components -> trainer_module -> shared code, each
layer importing only the layers after it, and no import cycle among the project's modules.
Tests (`*_test.py`, conftest.py, tests/) may import anything."""

import ast
import graphlib
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Top-level package or module -> layer; a lower number may import a higher one, not back.
LAYERS = {
  "local_runner": 0,
  "kubeflow_runner": 0,
  "system": 0,
  "setup": 0,
  "tools": 0,
  "benchmarks": 0,
  "pipeline": 1,
  "reporting": 2,
  "components": 3,
  "trainer_module": 4,
  "schemas": 5,
}
SKIPPED_DIRS = {".venv", "tests", "notebooks", "scripts", ".git", "tfx_output", "build"}


def _modules():
  """module name -> path of every non-test Python file of the project."""
  found = {}
  for folder, dirs, files in os.walk(ROOT):
    dirs[:] = [d for d in dirs if d not in SKIPPED_DIRS and not d.startswith(".")]
    for name in files:
      if not name.endswith(".py") or name.endswith("_test.py") or name == "conftest.py":
        continue
      path = os.path.join(folder, name)
      parts = os.path.relpath(path, ROOT)[: -len(".py")].split(os.sep)
      if parts[-1] == "__init__":
        parts = parts[:-1]
      found[".".join(parts)] = path
  return found


def _imports(path: str, module: str, known) -> set:
  """The project modules `module` imports (absolute and relative), anywhere in its source."""
  with open(path) as f:
    tree = ast.parse(f.read(), path)
  package = module if path.endswith("__init__.py") else module.rpartition(".")[0]
  names = set()
  for node in ast.walk(tree):
    if isinstance(node, ast.Import):
      names.update(alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom):
      base = node.module or ""
      if node.level:
        base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + [base])
        base = base.strip(".")
      names.update(f"{base}.{alias.name}" for alias in node.names)
      names.add(base)
  resolved = set()
  for name in names:
    while name and name not in known:  # `from pkg import func` -> pkg
      name = name.rpartition(".")[0]
    if name and name != module:
      resolved.add(name)
  return resolved


def _graph():
  modules = _modules()
  return {m: _imports(path, m, modules) for m, path in modules.items()}


def _layer(module: str) -> int:
  top = module.split(".")[0]
  assert top in LAYERS, f"{module}: add its package {top!r} to LAYERS"
  return LAYERS[top]


def test_every_module_imports_only_the_layers_below_it():
  wrong = sorted(
    f"{module} ({_layer(module)}) imports {imported} ({_layer(imported)})"
    for module, imports in _graph().items()
    for imported in imports
    if _layer(imported) < _layer(module)
  )
  assert not wrong, "\n".join(wrong)


def test_no_import_cycles_among_the_projects_modules():
  # Package __init__ modules that only re-export a submodule are skipped as cycle members: a
  # package importing its own submodule is no cycle.
  graph = {
    module: {i for i in imports if not module.startswith(i + ".")}
    for module, imports in _graph().items()
  }
  try:
    graphlib.TopologicalSorter(graph).static_order()
  except graphlib.CycleError as e:
    pytest.fail(f"import cycle: {' -> '.join(e.args[1])}")


def test_the_checks_see_a_violation(tmp_path):
  """The parser finds a function-level import of a higher layer and a relative import."""
  source = tmp_path / "executor.py"
  source.write_text(
    "from . import sibling\n"
    "def f():\n"
    "  from pipeline import configs  # pylint: disable=import-outside-toplevel\n"
  )
  known = {"components.x.executor", "components.x.sibling", "pipeline", "pipeline.configs"}
  imports = _imports(str(source), "components.x.executor", known)
  assert imports == {"components.x.sibling", "pipeline", "pipeline.configs"}
  assert _layer("pipeline.configs") < _layer("components.x.executor")
