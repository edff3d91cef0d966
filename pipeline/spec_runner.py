"""Runs a compiled Kubeflow Pipelines v2 spec on this machine, task by task, with each task's
own container command (TFX's Kubeflow V2 executor entrypoint, ExampleGen's driver).

  python -m pipeline.spec_runner pipeline.json [--param data_root=DIR] [--run-id ID]

It does for each task what Vertex AI Pipelines' launcher does: fill the ExecutorInput (the
task's parameters, its upstream artifacts with their metadata, output URIs under the spec's
pipeline root), run the container's command with `{{$}}` replaced by it (with this Python in
place of the image's `python`), and read the ExecutorOutput the task writes back. The spec must
have been compiled with local paths (`--data-dir`, `--output-dir`) in place of gs://.

Resolver tasks (the latest blessed model) stand in for Vertex's ML Metadata queries: each run
lists its artifacts in `<pipeline root>/<run id>/artifacts.jsonl`, and a resolver's filter picks
the newest matching artifact of the earlier runs, so a second run is judged against the first
run's blessed model. Not emulated: caching.
"""

import argparse
import glob
import graphlib
import json
import os
import re
import subprocess
import sys
import time
from typing import Any, Dict, List, Optional

WHOLE_INPUT = "{{$}}"
LEDGER = "artifacts.jsonl"  # Per run: every output artifact, in the order tasks produced them.
# The placeholder TFX's resolvers use in a filter: an input artifact's metadata value.
INPUT_METADATA = re.compile(r"\{\{\$\.inputs\.artifacts\['(\w+)'\]\.metadata\['(\w+)'\]\}\}")
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NOT_PUSHED = 0, 1, 2, 3  # local_runner.py's codes


class SpecError(Exception):
  """The spec asks for something this runner cannot do."""


class TaskFailed(Exception):
  """A task's command exited with an error."""


def _producers(task: Dict[str, Any]) -> Dict[str, Dict[str, str]]:
  """Input key -> {producerTask, outputArtifactKey}."""
  return {key: source["taskOutputArtifact"]
          for key, source in task.get("inputs", {}).get("artifacts", {}).items()}


def _order(tasks: Dict[str, Any]) -> List[str]:
  """Task names, each after the tasks it depends on or takes artifacts from."""
  graph = {name: set(task.get("dependentTasks", [])) |
           {p["producerTask"] for p in _producers(task).values()}
           for name, task in tasks.items()}
  return list(graphlib.TopologicalSorter(graph).static_order())


def _schema_title(artifact_type: Dict[str, str]) -> str:
  if "schemaTitle" in artifact_type:
    return artifact_type["schemaTitle"]
  return re.search(r"^title: (\S+)", artifact_type.get("instanceSchema", ""), re.M).group(1)


def _fill(value: str, inputs: Dict[str, List[Dict[str, Any]]]) -> Optional[str]:
  """`value` with its input-metadata placeholders filled, or None when an input lacks one."""
  values = []
  for key, field in INPUT_METADATA.findall(value):
    metadata = (inputs.get(key) or [{}])[0].get("metadata", {})
    if field not in metadata:
      return None
    values.append(str(metadata[field]))
  return INPUT_METADATA.sub(lambda _: values.pop(0), value)


def _matches(artifact: Dict[str, Any], query: str,
             inputs: Dict[str, List[Dict[str, Any]]]) -> bool:
  """Whether an artifact passes a resolver filter such as TFX compiles:
  `schema_title="tfx.Model" AND state=LIVE AND name="..."` or
  `... AND metadata.blessed.number_value=1`."""
  for clause in query.split(" AND "):
    field, _, value = clause.strip().partition("=")
    value = _fill(value.strip('"'), inputs)
    if value is None:
      return False
    if field == "schema_title":
      ok = _schema_title(artifact["type"]) == value
    elif field == "state":
      ok = value == "LIVE"  # artifacts of finished runs are live
    elif field == "name":
      ok = artifact["name"] == value
    elif field.startswith("metadata.") and field.endswith(".number_value"):
      ok = artifact["metadata"].get(field.split(".")[1]) == float(value)
    elif field.startswith("metadata.") and field.endswith(".string_value"):
      ok = artifact["metadata"].get(field.split(".")[1]) == value
    else:
      raise SpecError(f"unsupported resolver filter clause {clause!r}")
    if not ok:
      return False
  return True


def _unwrap(value: Dict[str, Any]) -> Any:
  """The Python value of a pipeline_spec Value ({"stringValue": ...}, {"intValue": ...})."""
  (kind, content), = value.items()
  return int(content) if kind == "intValue" else content


def _root_parameters(spec: Dict[str, Any], overrides: Dict[str, str]) -> Dict[str, Any]:
  """Pipeline parameters: their defaults, then runtimeConfig's values, then `overrides`."""
  definitions = spec["pipelineSpec"]["root"].get("inputDefinitions", {}).get("parameters", {})
  values = {name: d.get("defaultValue") for name, d in definitions.items()}
  runtime = spec.get("runtimeConfig", {})
  values.update({name: _unwrap(v) for name, v in runtime.get("parameters", {}).items()})
  values.update(runtime.get("parameterValues", {}))
  unknown = sorted(set(overrides) - set(definitions))
  if unknown:
    raise SpecError(f"unknown pipeline parameter {', '.join(unknown)}; the spec has "
                    f"{', '.join(sorted(definitions)) or 'none'}")
  values.update(overrides)
  return values


def _as_kfp_value(value: Any) -> Dict[str, Any]:
  """A Python value as a pipeline_spec Value, what TFX's entrypoint reads exec properties from."""
  if isinstance(value, bool) or not isinstance(value, (int, float)):
    return {"stringValue": str(value)}
  return {"intValue": str(value)} if float(value).is_integer() else {"doubleValue": value}


def _parameters(task: Dict[str, Any], root_values: Dict[str, Any]) -> Dict[str, Any]:
  values = {}
  for name, source in task.get("inputs", {}).get("parameters", {}).items():
    if "componentInputParameter" in source:
      values[name] = root_values[source["componentInputParameter"]]
    else:
      values[name] = _unwrap(source["runtimeValue"]["constantValue"])
  return values


class SpecRunner:
  """Runs one compiled spec (the dict of a KubeflowV2DagRunner JSON file)."""

  def __init__(self, spec: Dict[str, Any], parameters: Optional[Dict[str, str]] = None,
               run_id: Optional[str] = None, python: str = sys.executable):
    self.pipeline = spec["pipelineSpec"]
    self.root = spec["runtimeConfig"]["gcsOutputDirectory"]
    if "://" in self.root:
      raise SpecError(f"pipeline root {self.root} is not local: compile with a local "
                      "--output-dir to run the spec on this machine")
    self.root_values = _root_parameters(spec, parameters or {})
    name = self.pipeline["pipelineInfo"]["name"]
    self.run_id = run_id or f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"
    self.python = python
    self.outputs: Dict[str, Dict[str, List[Dict[str, Any]]]] = {}  # task -> key -> artifacts
    self.earlier: List[Dict[str, Any]] = []  # earlier runs' artifacts, oldest first

  def run(self) -> Dict[str, Dict[str, List[Dict[str, Any]]]]:
    """Runs every task in dependency order; returns each task's output artifacts."""
    tasks = self.pipeline["root"]["dag"]["tasks"]
    self.earlier = self._earlier_artifacts()
    for name in _order(tasks):
      print(f"[spec_runner] {name}: running", flush=True)
      start = time.perf_counter()
      self.outputs[name] = self._run_task(name, tasks[name])
      print(f"[spec_runner] {name}: done in {time.perf_counter() - start:.1f} s", flush=True)
    return self.outputs

  def _executor(self, task: Dict[str, Any]):
    component = self.pipeline["components"][task["componentRef"]["name"]]
    executors = self.pipeline["deploymentSpec"]["executors"]
    return component, executors[component["executorLabel"]]

  def _inputs(self, task: Dict[str, Any]) -> Dict[str, List[Dict[str, Any]]]:
    return {key: self.outputs[p["producerTask"]][p["outputArtifactKey"]]
            for key, p in _producers(task).items()}

  def _earlier_artifacts(self) -> List[Dict[str, Any]]:
    """Artifacts of the earlier runs under the pipeline root, oldest first."""
    ledgers = [path for path in glob.glob(os.path.join(self.root, "*", LEDGER))
               if os.path.basename(os.path.dirname(path)) != self.run_id]
    artifacts = []
    for path in sorted(ledgers, key=os.path.getmtime):
      with open(path) as f:
        artifacts.extend(json.loads(line) for line in f)
    return artifacts

  def _resolve(self, name: str, task: Dict[str, Any], resolver: Dict[str, Any]):
    """Each query's newest matching artifact of an earlier run, or none."""
    inputs, found = self._inputs(task), {}
    for key, query in resolver["outputArtifactQueries"].items():
      matches = [a for a in self.earlier if _matches(a, query["filter"], inputs)]
      found[key] = [{k: matches[-1][k] for k in ("name", "type", "uri", "metadata")}] if (
          matches) else []
      print(f"[spec_runner] {name}: {key} = "
            f"{found[key][0]['name'] if found[key] else 'none (no earlier match)'}", flush=True)
    return found

  def _record(self, outputs: Dict[str, List[Dict[str, Any]]]) -> None:
    os.makedirs(os.path.join(self.root, self.run_id), exist_ok=True)
    with open(os.path.join(self.root, self.run_id, LEDGER), "a") as f:
      for artifacts in outputs.values():
        for artifact in artifacts:
          f.write(json.dumps(artifact) + "\n")

  def _run_task(self, name: str, task: Dict[str, Any]) -> Dict[str, List[Dict[str, Any]]]:
    component, executor = self._executor(task)
    if "resolver" in executor:
      return self._resolve(name, task, executor["resolver"])
    if "container" not in executor:
      raise SpecError(f"task {name}: only container and resolver executors can run here, not "
                      f"{', '.join(executor)}")
    task_dir = os.path.join(self.root, self.run_id, name)
    parameters = _parameters(task, self.root_values)
    executor_input = {
        "inputs": {
            "parameters": {k: _as_kfp_value(v) for k, v in parameters.items()},
            "parameterValues": parameters,
            "artifacts": {key: {"artifacts": artifacts}
                          for key, artifacts in self._inputs(task).items()},
        },
        "outputs": {
            "artifacts": {
                key: {"artifacts": [{
                    "name": f"{self.run_id}/{name}/{key}", "type": definition["artifactType"],
                    "uri": os.path.join(task_dir, key), "metadata": {}}]}
                for key, definition in component.get("outputDefinitions", {}).get(
                    "artifacts", {}).items()},
            "outputFile": os.path.join(task_dir, "executor_output.json"),
        },
    }
    container = executor["container"]
    driver = container.get("lifecycle", {}).get("preCacheCheck")
    if driver:  # e.g. ExampleGen's: resolves the span, fingerprints the input
      self._command(name, driver, executor_input)
      self._merge_driver_output(executor_input)
    self._command(name, container, executor_input)
    outputs = self._outputs(executor_input)
    self._record(outputs)
    return outputs

  def _command(self, name: str, container: Dict[str, Any], executor_input: Dict[str, Any]):
    command = [self.python if part == "python" else part for part in container["command"]]
    args = []
    for arg in container.get("args", []):
      if "{{$" in arg and arg != WHOLE_INPUT:
        raise SpecError(f"task {name}: unsupported placeholder in {arg!r}")
      args.append(json.dumps(executor_input) if arg == WHOLE_INPUT else arg)
    os.makedirs(os.path.dirname(executor_input["outputs"]["outputFile"]), exist_ok=True)
    result = subprocess.run(command + args, check=False)
    if result.returncode:
      raise TaskFailed(f"task {name} failed (exit {result.returncode})")

  @staticmethod
  def _read_output(executor_input: Dict[str, Any]) -> Dict[str, Any]:
    with open(executor_input["outputs"]["outputFile"]) as f:
      return json.load(f)

  def _merge_driver_output(self, executor_input: Dict[str, Any]) -> None:
    """The driver's updated exec properties and output metadata, as Vertex merges them."""
    output = self._read_output(executor_input)
    for key, value in output.get("parameterValues", {}).items():
      executor_input["inputs"]["parameterValues"][key] = value
      executor_input["inputs"]["parameters"][key] = _as_kfp_value(value)
    self._update_artifacts(executor_input, output)

  def _outputs(self, executor_input: Dict[str, Any]) -> Dict[str, List[Dict[str, Any]]]:
    self._update_artifacts(executor_input, self._read_output(executor_input))
    return {key: value["artifacts"]
            for key, value in executor_input["outputs"]["artifacts"].items()}

  @staticmethod
  def _update_artifacts(executor_input: Dict[str, Any], output: Dict[str, Any]) -> None:
    for key, written in output.get("artifacts", {}).items():
      for artifact, update in zip(executor_input["outputs"]["artifacts"][key]["artifacts"],
                                  written.get("artifacts", [])):
        artifact["metadata"] = update.get("metadata", {})
        artifact["uri"] = update.get("uri") or artifact["uri"]


def main(argv: Optional[List[str]] = None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("spec", help="The JSON file kubeflow_runner.py --compile wrote.")
  parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                      help="A pipeline parameter (e.g. data_root=DIR); repeatable.")
  parser.add_argument("--run-id", help="Folder of this run under the pipeline root.")
  args = parser.parse_args(argv)
  try:
    overrides = dict(p.split("=", 1) for p in args.param)
  except ValueError:
    parser.error("--param takes NAME=VALUE")
  try:
    with open(args.spec) as f:
      runner = SpecRunner(json.load(f), overrides, args.run_id)
  except (SpecError, OSError, ValueError) as e:
    print(f"error: {e}", file=sys.stderr)
    return EXIT_USAGE
  try:
    outputs = runner.run()
  except (SpecError, TaskFailed) as e:
    print(f"error: {e}", file=sys.stderr)
    return EXIT_FAILED
  print(f"[spec_runner] run {runner.run_id} finished under {runner.root}")
  pushed = [a for task in outputs.values() for a in task.get("pushed_model", [])]
  if pushed and not all(a["metadata"].get("pushed") for a in pushed):
    print("[spec_runner] the model was not blessed: nothing pushed")
    return EXIT_NOT_PUSHED
  return EXIT_OK


if __name__ == "__main__":
  sys.exit(main())
