"""The project's import layering, read from every module's source (imports inside functions and
`importlib.import_module("...")` calls included): runners -> pipeline -> reporting ->
components -> trainer_module -> schemas, each layer importing only the layers after it; the
Trainer's own modules (train.py and what it was split into) imported by no component or
pipeline module; and no import cycle among the project's modules. Tests (`*_test.py`,
conftest.py, tests/) may import anything. Each rule is shown to fail on a planted violation."""

import ast
import graphlib
import os
from typing import Dict, List, Set

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
# The Trainer's and Tuner's own modules: they pull in Keras Tuner, tf.Transform and TFX's
# Trainer; components and pipeline modules read the Trainer's outputs through schemas/.
TRAINING_MODULES = {
  f"trainer_module.{name}"
  for name in ("train", "tuning", "datasets", "callbacks", "export", "out_of_fold")
}
NO_TRAINING = ("components", "pipeline")


def modules(root: str = ROOT) -> Dict[str, str]:
  """module name -> path of every non-test Python file under root."""
  found = {}
  for folder, dirs, files in os.walk(root):
    dirs[:] = [d for d in dirs if d not in SKIPPED_DIRS and not d.startswith(".")]
    for name in files:
      if not name.endswith(".py") or name.endswith("_test.py") or name == "conftest.py":
        continue
      path = os.path.join(folder, name)
      parts = os.path.relpath(path, root)[: -len(".py")].split(os.sep)
      if parts[-1] == "__init__":
        parts = parts[:-1]
      found[".".join(parts)] = path
  return found


def _named(node: ast.AST, package: str) -> Set[str]:
  """The module names one import statement or importlib.import_module call names."""
  if isinstance(node, ast.Import):
    return {alias.name for alias in node.names}
  if isinstance(node, ast.ImportFrom):
    base = node.module or ""
    if node.level:
      kept = package.split(".")[: len(package.split(".")) - node.level + 1]
      base = ".".join(kept + [base]).strip(".")
    return {f"{base}.{alias.name}" for alias in node.names} | {base}
  if (
    isinstance(node, ast.Call)
    and isinstance(node.func, ast.Attribute)
    and node.func.attr == "import_module"
    and node.args
    and isinstance(node.args[0], ast.Constant)
    and isinstance(node.args[0].value, str)
  ):
    return {node.args[0].value}
  return set()


def imports(path: str, module: str, known) -> Set[str]:
  """The project modules `module` imports, anywhere in its source."""
  with open(path) as f:
    tree = ast.parse(f.read(), path)
  package = module if path.endswith("__init__.py") else module.rpartition(".")[0]
  names = set().union(*(_named(node, package) for node in ast.walk(tree)))
  resolved = set()
  for name in names:
    while name and name not in known:  # `from pkg import func` -> pkg
      name = name.rpartition(".")[0]
    if name and name != module:
      resolved.add(name)
  return resolved


def graph(root: str = ROOT) -> Dict[str, Set[str]]:
  found = modules(root)
  return {m: imports(path, m, found) for m, path in found.items()}


def layer(module: str) -> int:
  top = module.split(".")[0]
  assert top in LAYERS, f"{module}: add its package {top!r} to LAYERS"
  return LAYERS[top]


def upward(edges: Dict[str, Set[str]]) -> List[str]:
  return sorted(
    f"{module} ({layer(module)}) imports {imported} ({layer(imported)})"
    for module, imported_set in edges.items()
    for imported in imported_set
    if layer(imported) < layer(module)
  )


def training_imports(edges: Dict[str, Set[str]]) -> List[str]:
  return sorted(
    f"{module} imports {imported}"
    for module, imported_set in edges.items()
    if module.split(".")[0] in NO_TRAINING
    for imported in imported_set & TRAINING_MODULES
  )


def cycle(edges: Dict[str, Set[str]]) -> List[str]:
  """An import cycle (its modules in order), or []. A package's __init__ importing its own
  submodule is no cycle."""
  pruned = {m: {i for i in imported if not m.startswith(i + ".")} for m, imported in edges.items()}
  try:
    tuple(graphlib.TopologicalSorter(pruned).static_order())  # consumed: it raises lazily
  except graphlib.CycleError as e:
    return list(e.args[1])
  return []


def test_the_project_keeps_its_layers():
  edges = graph()
  assert len(edges) > 100  # every module was read
  assert upward(edges) == []
  assert training_imports(edges) == []
  assert cycle(edges) == []


def _plant(tmp_path, files: Dict[str, str]) -> Dict[str, Set[str]]:
  for name, source in files.items():
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source)
  return graph(str(tmp_path))


def test_a_planted_cycle_fails(tmp_path):
  edges = _plant(
    tmp_path,
    {
      "reporting/__init__.py": "",
      "reporting/a.py": "from reporting import b\n",
      "reporting/b.py": "def f():\n  from reporting import a\n",
    },
  )
  assert upward(edges) == []
  assert sorted(cycle(edges)) == ["reporting.a", "reporting.a", "reporting.b"]


def test_a_planted_upward_import_fails(tmp_path):
  edges = _plant(
    tmp_path,
    {
      "pipeline/__init__.py": "",
      "pipeline/configs.py": "",
      "components/__init__.py": "",
      "components/x/__init__.py": "",
      "components/x/executor.py": "from . import sibling\n"
      "def f():\n  from pipeline import configs  # noqa: PLC0415\n",
      "components/x/sibling.py": "",
    },
  )
  assert edges["components.x.executor"] == {
    "components.x",
    "components.x.sibling",
    "pipeline",
    "pipeline.configs",
  }
  assert upward(edges) == [
    "components.x.executor (3) imports pipeline (1)",
    "components.x.executor (3) imports pipeline.configs (1)",
  ]


def test_a_planted_import_module_of_a_higher_layer_fails(tmp_path):
  edges = _plant(
    tmp_path,
    {
      "reporting/__init__.py": "",
      "reporting/x.py": "",
      "trainer_module/__init__.py": "",
      "trainer_module/train.py": "",
      "trainer_module/y.py": "import importlib\nm = importlib.import_module('reporting.x')\n",
      "pipeline/__init__.py": "",
      "pipeline/z.py": "from trainer_module import train\n",
    },
  )
  assert upward(edges) == ["trainer_module.y (4) imports reporting.x (2)"]
  assert training_imports(edges) == ["pipeline.z imports trainer_module.train"]


def imported_tests(root: str = ROOT) -> List[str]:
  """'<test file>: <test module>' for each test module a test module imports."""
  found = []
  for folder, dirs, files in os.walk(root):
    dirs[:] = [d for d in dirs if d not in SKIPPED_DIRS - {"tests"} and not d.startswith(".")]
    for name in files:
      if name.endswith("_test.py"):
        path = os.path.join(folder, name)
        with open(path) as f:
          tree = ast.parse(f.read(), path)
        for node in ast.walk(tree):
          found += [
            f"{os.path.relpath(path, root)}: {n}" for n in _named(node, "") if n.endswith("_test")
          ]
  return sorted(found)


def test_no_test_module_imports_another(tmp_path):
  """Shared test helpers live in tests/ (images.py, runs.py, ...), not in other test modules;
  shown to fail on a planted one."""
  assert imported_tests() == []
  (tmp_path / "a").mkdir()
  (tmp_path / "a" / "one_test.py").write_text("from a import (\n  two_test,\n)\n")
  (tmp_path / "a" / "three_test.py").write_text("import a.four_test\n")
  assert imported_tests(str(tmp_path)) == [
    "a/one_test.py: a.two_test",
    "a/three_test.py: a.four_test",
  ]
