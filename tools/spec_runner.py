"""Runs a compiled Kubeflow Pipelines v2 spec on this machine, task by task, with each task's
own container command (TFX's Kubeflow V2 executor entrypoint, ExampleGen's driver).

  python -m tools.spec_runner pipeline.json [--param data_root=DIR] [--run-id ID]

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
import contextlib
import glob
import graphlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from typing import Any, Dict, List, Mapping, Optional

from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2 as pb

from pipeline import console
from schemas import nodes
from schemas.outcomes import ExitCode, Status, exit_code

WHOLE_INPUT = "{{$}}"
ALL_UPSTREAM_TASKS_COMPLETED = pb.PipelineTaskSpec.TriggerPolicy.ALL_UPSTREAM_TASKS_COMPLETED
LEDGER = "artifacts.jsonl"  # Per run: every output artifact, in the order tasks produced them.
# The placeholder TFX's resolvers use in a filter: an input artifact's metadata value.
INPUT_METADATA = re.compile(r"\{\{\$\.inputs\.artifacts\['(\w+)'\]\.metadata\['(\w+)'\]\}\}")


class SpecError(Exception):
  """The spec asks for something this runner cannot do."""


class TaskFailed(Exception):
  """A task's command exited with an error."""

  def __init__(self, message: str, task: str = ""):
    super().__init__(message)
    self.task = task


def _parse(spec: Dict[str, Any]):
  """(PipelineJob, its PipelineSpec, its PipelineDeploymentConfig) of a compiled JSON spec."""
  try:
    job = json_format.ParseDict(spec, pb.PipelineJob())
    pipeline = json_format.ParseDict(spec["pipelineSpec"], pb.PipelineSpec())
    deployment = json_format.ParseDict(
      spec["pipelineSpec"].get("deploymentSpec", {}), pb.PipelineDeploymentConfig()
    )
  except (json_format.ParseError, KeyError, AttributeError) as e:
    raise SpecError(f"not a compiled Kubeflow Pipelines v2 spec: {e}")
  return job, pipeline, deployment


def _producers(task: pb.PipelineTaskSpec):
  """Input key -> its TaskOutputArtifactSpec (producer_task, output_artifact_key)."""
  return {
    key: source.task_output_artifact
    for key, source in task.inputs.artifacts.items()
    if source.HasField("task_output_artifact")
  }


def _order(tasks: Mapping[str, pb.PipelineTaskSpec]) -> List[str]:
  """Task names, each after the tasks it depends on or takes artifacts from."""
  graph = {
    name: set(task.dependent_tasks) | {p.producer_task for p in _producers(task).values()}
    for name, task in tasks.items()
  }
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


CLAUSE = re.compile(r"^([\w.]+)(<|=)(.*)$")
_COMPARE = {"=": lambda a, b: a == b, "<": lambda a, b: a < b}


def _matches(artifact: Dict[str, Any], query: str, inputs: Dict[str, List[Dict[str, Any]]]) -> bool:
  """Whether an artifact passes a resolver filter such as TFX compiles:
  `schema_title="tfx.Model" AND state=LIVE AND name="..."` or
  `... AND metadata.blessed.number_value=1`, or the drift baseline's
  `... AND metadata.span.number_value<{{...}}` (pipeline/spans.py)."""
  for clause in query.split(" AND "):
    match = CLAUSE.match(clause.strip())
    if not match:
      raise SpecError(f"unsupported resolver filter clause {clause!r}")
    field, operator, value = match.groups()
    if operator != "=" and not field.endswith(".number_value"):
      raise SpecError(f"unsupported resolver filter clause {clause!r}")
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
      number = artifact["metadata"].get(field.split(".")[1])
      ok = number is not None and _COMPARE[operator](float(number), float(value))
    elif field.startswith("metadata.") and field.endswith(".string_value"):
      ok = artifact["metadata"].get(field.split(".")[1]) == value
    else:
      raise SpecError(f"unsupported resolver filter clause {clause!r}")
    if not ok:
      return False
  return True


def _unwrap(value: pb.Value) -> Any:
  """The Python value of a pipeline_spec Value (int_value, double_value or string_value)."""
  kind = value.WhichOneof("value")
  return getattr(value, kind) if kind else None


def _root_parameters(
  job: pb.PipelineJob, pipeline: pb.PipelineSpec, overrides: Dict[str, str]
) -> Dict[str, Any]:
  """Pipeline parameters: their defaults, then runtimeConfig's values, then `overrides`."""
  definitions = pipeline.root.input_definitions.parameters
  values = {
    name: json_format.MessageToDict(d.default_value) if d.HasField("default_value") else None
    for name, d in definitions.items()
  }
  runtime = job.runtime_config
  values.update({name: _unwrap(v) for name, v in runtime.parameters.items()})
  values.update(
    {name: json_format.MessageToDict(v) for name, v in runtime.parameter_values.items()}
  )
  unknown = sorted(set(overrides) - set(definitions))
  if unknown:
    raise SpecError(
      f"unknown pipeline parameter {', '.join(unknown)}; the spec has "
      f"{', '.join(sorted(definitions)) or 'none'}"
    )
  values.update(overrides)
  return values


def _as_kfp_value(value: Any) -> Dict[str, Any]:
  """A Python value as a pipeline_spec Value, what TFX's entrypoint reads exec properties from."""
  if isinstance(value, bool) or not isinstance(value, (int, float)):
    return {"stringValue": str(value)}
  return {"intValue": str(value)} if float(value).is_integer() else {"doubleValue": value}


def _parameters(
  name: str, task: pb.PipelineTaskSpec, root_values: Dict[str, Any], final_status: str = ""
):
  """The task's parameter values: the pipeline's, constants, or (an exit handler's) the run's
  final status."""
  values = {}
  for key, source in task.inputs.parameters.items():
    kind = source.WhichOneof("kind")
    constant = source.runtime_value.WhichOneof("value") if kind == "runtime_value" else None
    if kind == "component_input_parameter":
      values[key] = root_values[source.component_input_parameter]
    elif kind == "task_final_status":
      values[key] = final_status
    elif constant == "constant_value":
      values[key] = _unwrap(source.runtime_value.constant_value)
    elif constant == "constant":
      values[key] = json_format.MessageToDict(source.runtime_value.constant)
    else:
      raise SpecError(f"task {name}: parameter {key} comes from {constant or kind}, not supported")
  return values


OWN_LINE = re.compile(r"^\[[A-Za-z_]+\] ")  # "[Trainer] epoch 3/10: ...": shown on the console


@contextlib.contextmanager
def _heartbeat(task: str):
  """While a Beam stage's task runs, a line every console.HEARTBEAT seconds."""

  start, done = time.monotonic(), threading.Event()

  def beat():
    while not done.wait(console.HEARTBEAT):
      print(f"[spec_runner] {task}: running for {time.monotonic() - start:.0f} s", flush=True)

  if task in nodes.BEAM_STAGES:
    threading.Thread(target=beat, daemon=True).start()
  try:
    yield
  finally:
    done.set()


class SpecRunner:
  """Runs one compiled spec (the dict of a KubeflowV2DagRunner JSON file).

  Each task's output goes to `log` (a file object; None: the console), but for its own tagged
  lines ("[ImageExampleGen] ...", "[Trainer] ..."), which are shown on the console.
  """

  def __init__(
    self,
    spec: Dict[str, Any],
    parameters: Optional[Dict[str, str]] = None,
    run_id: Optional[str] = None,
    python: str = sys.executable,
    log=None,
  ):
    job, self.pipeline, self.deployment = _parse(spec)
    self.root = job.runtime_config.gcs_output_directory
    if "://" in self.root:
      raise SpecError(
        f"pipeline root {self.root} is not local: compile with a local "
        "--output-dir to run the spec on this machine"
      )
    self.root_values = _root_parameters(job, self.pipeline, parameters or {})
    name = self.pipeline.pipeline_info.name
    self.run_id = run_id or f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"
    self.python = python
    self.outputs: Dict[str, Dict[str, List[Dict[str, Any]]]] = {}  # task -> key -> artifacts
    self.earlier: List[Dict[str, Any]] = []  # earlier runs' artifacts, oldest first
    self.seconds: Dict[str, float] = {}  # task -> seconds it took
    self.parameters: Dict[str, Dict[str, Any]] = {}  # task -> its parameter values
    self.log = log
    self.current: Optional[str] = None  # the task running now
    self.final_status = ""  # the run's end, for its exit handler (PipelineTaskFinalStatus JSON)

  @property
  def tasks(self) -> Mapping[str, pb.PipelineTaskSpec]:
    """The pipeline's tasks: the root DAG's, or those of its sub-DAG (a spec with an exit
    handler puts them in one, whose inputs are the pipeline's parameters)."""
    root = self.pipeline.root.dag.tasks
    for task in root.values():
      component = self.pipeline.components[task.component_ref.name]
      if component.HasField("dag"):
        return component.dag.tasks
    return root

  @property
  def exit_handler(self) -> Optional[str]:
    """The root task that runs once the pipeline's tasks have ended, however they ended."""
    for name, task in self.pipeline.root.dag.tasks.items():
      if task.trigger_policy.strategy == ALL_UPSTREAM_TASKS_COMPLETED:
        return name
    return None

  def run_exit_handler(self, state: str, message: str = "") -> None:
    """Runs the exit handler, if the spec has one, with the run's final status as Vertex AI
    hands it over (PipelineTaskFinalStatus)."""
    name = self.exit_handler
    if name is None:
      return
    if state != "SUCCEEDED":  # after a success it has nothing to say
      print(f"[spec_runner] {name}: running ({state})", flush=True)
    self.final_status = json.dumps(
      {
        "state": state,
        "error": {"code": 9, "message": message} if message else {},
        "pipelineJobResourceName": f"projects/local/locations/here/pipelineJobs/{self.run_id}",
        "pipelineTaskName": name,
      }
    )
    task = self.pipeline.root.dag.tasks[name]
    _, executor = self._executor(task)
    self._command(name, executor.container, self.executor_input(name, task))

  def run(self) -> Dict[str, Dict[str, List[Dict[str, Any]]]]:
    """Runs every task in dependency order; returns each task's output artifacts."""
    tasks = self.tasks
    self.earlier = self._earlier_artifacts()
    for name in _order(tasks):
      resolver = self._executor(tasks[name])[1].WhichOneof("spec") == "resolver"
      if not resolver:  # a resolver says one line: what it found
        print(f"[spec_runner] {name}: running", flush=True)
      start, self.current = time.perf_counter(), name
      with _heartbeat(name):
        self.outputs[name] = self._run_task(name, tasks[name])
      self.current = None
      self.seconds[name] = round(time.perf_counter() - start, 1)
      if not resolver:
        print(f"[spec_runner] {name}: done in {self.seconds[name]:.1f} s", flush=True)
    return self.outputs

  def _executor(self, task: pb.PipelineTaskSpec):
    component = self.pipeline.components[task.component_ref.name]
    return component, self.deployment.executors[component.executor_label]

  def _inputs(self, task: pb.PipelineTaskSpec) -> Dict[str, List[Dict[str, Any]]]:
    return {
      key: self.outputs[p.producer_task][p.output_artifact_key]
      for key, p in _producers(task).items()
    }

  def _earlier_artifacts(self) -> List[Dict[str, Any]]:
    """Artifacts of the earlier runs under the pipeline root, oldest first."""
    ledgers = [
      path
      for path in glob.glob(os.path.join(self.root, "*", LEDGER))
      if os.path.basename(os.path.dirname(path)) != self.run_id
    ]
    artifacts = []
    for path in sorted(ledgers, key=os.path.getmtime):
      with open(path) as f:
        artifacts.extend(json.loads(line) for line in f)
    return artifacts

  def _resolve(self, name: str, task: pb.PipelineTaskSpec, resolver):
    """Each query's newest matching artifact of an earlier run, or none."""
    inputs, found = self._inputs(task), {}
    for key, query in resolver.output_artifact_queries.items():
      matches = [a for a in self.earlier if _matches(a, query.filter, inputs)]
      found[key] = (
        [{k: matches[-1][k] for k in ("name", "type", "uri", "metadata")}] if (matches) else []
      )
      print(
        f"[spec_runner] {name}: {key} = "
        f"{found[key][0]['name'] if found[key] else 'none (no earlier match)'}",
        flush=True,
      )
    return found

  def _record(self, outputs: Dict[str, List[Dict[str, Any]]]) -> None:
    os.makedirs(os.path.join(self.root, self.run_id), exist_ok=True)
    with open(os.path.join(self.root, self.run_id, LEDGER), "a") as f:
      for artifacts in outputs.values():
        for artifact in artifacts:
          f.write(json.dumps(artifact) + "\n")

  def executor_input(self, name: str, task: Optional[pb.PipelineTaskSpec] = None):
    """The ExecutorInput of a container task as Vertex's launcher fills it: its parameters, the
    artifacts of the tasks run so far, output URIs under this run's folder."""
    task = task or self.tasks[name]
    component, _ = self._executor(task)
    task_dir = os.path.join(self.root, self.run_id, name)
    parameters = _parameters(name, task, self.root_values, self.final_status)
    return {
      "inputs": {
        "parameters": {k: _as_kfp_value(v) for k, v in parameters.items()},
        "parameterValues": parameters,
        "artifacts": {
          key: {"artifacts": artifacts} for key, artifacts in self._inputs(task).items()
        },
      },
      "outputs": {
        "artifacts": {
          key: {
            "artifacts": [
              {
                "name": f"{self.run_id}/{name}/{key}",
                "type": json_format.MessageToDict(definition.artifact_type),
                "uri": os.path.join(task_dir, key),
                "metadata": {},
              }
            ]
          }
          for key, definition in component.output_definitions.artifacts.items()
        },
        "outputFile": os.path.join(task_dir, "executor_output.json"),
      },
    }

  def run_driver(
    self, name: str, executor_input: Optional[Dict[str, Any]] = None
  ) -> Dict[str, Any]:
    """Runs a task's driver (its container's preCacheCheck hook, e.g. ExampleGen's span
    resolution and input fingerprint) on `executor_input` (default: the task's own); returns
    the ExecutorOutput it wrote."""
    _, executor = self._executor(self.tasks[name])
    if not executor.container.lifecycle.HasField("pre_cache_check"):
      raise SpecError(f"task {name} has no driver (preCacheCheck)")
    executor_input = executor_input or self.executor_input(name)
    self._command(name, executor.container.lifecycle.pre_cache_check, executor_input)
    return self._read_output(executor_input)

  def _run_task(self, name: str, task: pb.PipelineTaskSpec) -> Dict[str, List[Dict[str, Any]]]:
    _, executor = self._executor(task)
    kind = executor.WhichOneof("spec")
    if kind == "resolver":
      return self._resolve(name, task, executor.resolver)
    if kind != "container":
      raise SpecError(
        f"task {name}: only container and resolver executors can run here, not {kind}"
      )
    executor_input = self.executor_input(name)
    self.parameters[name] = executor_input["inputs"]["parameterValues"]
    if executor.container.lifecycle.HasField("pre_cache_check"):  # e.g. ExampleGen's driver
      self._merge_driver_output(executor_input, self.run_driver(name, executor_input))
    self._command(name, executor.container, executor_input)
    outputs = self._outputs(executor_input)
    self._record(outputs)
    return outputs

  def _command(self, name: str, container, executor_input: Dict[str, Any]):
    """Runs a container's (or a lifecycle hook's) command and args."""
    command = [self.python if part == "python" else part for part in container.command]
    args = []
    for arg in container.args:
      if "{{$" in arg and arg != WHOLE_INPUT:
        raise SpecError(f"task {name}: unsupported placeholder in {arg!r}")
      args.append(json.dumps(executor_input) if arg == WHOLE_INPUT else arg)
    os.makedirs(os.path.dirname(executor_input["outputs"]["outputFile"]), exist_ok=True)
    if self.log is None:
      returncode = subprocess.run(command + args, check=False).returncode
    else:
      returncode = self._logged(command + args)
    if returncode:
      raise TaskFailed(f"task {name} failed (exit {returncode})", name)

  def _logged(self, command: List[str]) -> int:
    """Runs the command with its output in the log and its own tagged lines on the console;
    returns its exit status."""
    with subprocess.Popen(
      command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace"
    ) as process:
      for line in process.stdout:
        self.log.write(line)
        if OWN_LINE.match(line):
          print(line.rstrip("\n"), flush=True)
      self.log.flush()
      return process.wait()

  @staticmethod
  def _read_output(executor_input: Dict[str, Any]) -> Dict[str, Any]:
    with open(executor_input["outputs"]["outputFile"]) as f:
      return json.load(f)

  def _merge_driver_output(self, executor_input: Dict[str, Any], output: Dict[str, Any]) -> None:
    """The driver's updated exec properties and output metadata, as Vertex merges them."""
    for key, value in output.get("parameterValues", {}).items():
      executor_input["inputs"]["parameterValues"][key] = value
      executor_input["inputs"]["parameters"][key] = _as_kfp_value(value)
    self._update_artifacts(executor_input, output)

  def _outputs(self, executor_input: Dict[str, Any]) -> Dict[str, List[Dict[str, Any]]]:
    self._update_artifacts(executor_input, self._read_output(executor_input))
    return {
      key: value["artifacts"] for key, value in executor_input["outputs"]["artifacts"].items()
    }

  @staticmethod
  def _update_artifacts(executor_input: Dict[str, Any], output: Dict[str, Any]) -> None:
    for key, written in output.get("artifacts", {}).items():
      for artifact, update in zip(
        executor_input["outputs"]["artifacts"][key]["artifacts"], written.get("artifacts", [])
      ):
        artifact["metadata"] = update.get("metadata", {})
        artifact["uri"] = update.get("uri") or artifact["uri"]


def record(runner: SpecRunner):
  """The run as reporting.executions reads one: each task's newest output artifacts, seconds and
  parameters."""
  from reporting import executions  # noqa: PLC0415  (ml_metadata: only for the record)

  return executions.ArtifactRun(
    runner.run_id,
    {
      (task, key): executions.from_metadata(
        artifacts[-1].get("uri", ""), artifacts[-1].get("metadata", {})
      )
      for task, outputs in runner.outputs.items()
      for key, artifacts in outputs.items()
      if artifacts
    },
    seconds=runner.seconds,
    parameters=runner.parameters,
  )


def blocked_drift(runner: SpecRunner, failed: TaskFailed) -> Dict[str, Any]:
  """DriftCheck's report when that task stopped the run (--on-drift block), else {}."""
  from components.drift_check import executor as drift  # noqa: PLC0415  (TensorFlow/TFX behind it: loaded when used)

  if failed.task != nodes.DRIFT_CHECK:
    return {}
  report = drift.read_report(os.path.join(runner.root, runner.run_id, failed.task, "anomalies"))
  return report if report.get("on_drift") == "block" and report.get("drifted") else {}


def data_dir(runner: SpecRunner) -> Optional[str]:
  """The data path the run read, as --data-dir names it: data_root, with the span pattern
  (`day-{SPAN}`) compiled into ImageExampleGen's input config when it has one."""
  from components.image_example_gen import spans  # noqa: PLC0415  (TensorFlow/TFX behind it: loaded when used)

  root = runner.root_values.get("data_root")
  task = runner.tasks.get(nodes.EXAMPLE_GEN)
  if root is None or task is None:
    return root
  parameters = _parameters(nodes.EXAMPLE_GEN, task, runner.root_values)
  return spans.span_path(root, parameters.get("input_config", ""))


def finish(runner: SpecRunner, log_path: Optional[str], end, error=None) -> int:
  """The run's run_summary.json, history and report, as local_runner.py writes them: under the
  output dir (the pipeline root's parent); returns the exit status."""
  from pipeline import configs  # noqa: PLC0415  (TensorFlow/TFX behind it: loaded when used)
  from reporting import finish as finishing  # noqa: PLC0415  (TensorFlow/TFX behind it: loaded when used)

  config = configs.PipelineConfig(
    output_dir=os.path.dirname(runner.root.rstrip("/")),
    pipeline_name=runner.pipeline.pipeline_info.name,
    data_dir=data_dir(runner),
  )
  _, status = finishing.finish_run(
    config.run_context(),
    end,
    runner.run_id,
    run=lambda: record(runner),
    extra={"log": log_path},
    note=lambda line: print(f"[spec_runner] {line}", flush=True),
    **({"error": error} if error else {}),
  )
  return status


def main(argv: Optional[List[str]] = None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
  parser.add_argument("spec", help="The JSON file kubeflow_runner.py --compile wrote.")
  parser.add_argument(
    "--param",
    action="append",
    default=[],
    metavar="NAME=VALUE",
    help="A pipeline parameter (e.g. data_root=DIR); repeatable.",
  )
  parser.add_argument("--run-id", help="Folder of this run under the pipeline root.")
  parser.add_argument(
    "--verbose",
    action="store_true",
    help="Show every task's output on the console; otherwise it goes to "
    "<output-dir>/logs/<run id>.log.",
  )
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
    return ExitCode.USAGE
  log_path = None
  if not args.verbose:
    log_path = os.path.join(
      os.path.dirname(runner.root.rstrip("/")), "logs", f"{runner.run_id}.log"
    )
    os.makedirs(os.path.dirname(log_path), exist_ok=True)
    runner.log = open(log_path, "a")  # closed when the run ends (below)
    print(f"[spec_runner] log: {log_path} (--verbose shows it here)", flush=True)
  from reporting import outcome  # noqa: PLC0415  (TensorFlow/TFX behind it: loaded when used)

  end = outcome.Outcome()
  try:
    runner.run()
  except (SpecError, TaskFailed) as e:
    drift_report = blocked_drift(runner, e) if isinstance(e, TaskFailed) else None
    if drift_report:
      print(f"[spec_runner] run {runner.run_id} stopped by DriftCheck (--on-drift block)")
      end = outcome.Outcome(drift_report=drift_report, stage=e.task)
    else:
      end = outcome.failed(str(e), getattr(e, "task", None) or None)
  except KeyboardInterrupt:
    end = outcome.interrupted(signal.SIGINT, runner.current)
  on_exit = runner.exit_handler and end.status is not Status.INTERRUPTED
  state, message = final_status(end)
  try:
    if on_exit:  # as Vertex AI does, after every run: the record of a failed one
      runner.run_exit_handler(state, message)
  except TaskFailed as e:
    print(f"[spec_runner] {e}", file=sys.stderr)
  finally:
    if runner.log:
      runner.log.close()
  if end.completed:
    print(f"[spec_runner] run {runner.run_id} finished under {runner.root}", flush=True)
    if nodes.PUSHER not in runner.outputs:  # e.g. a hand-written spec
      return ExitCode.OK
  elif on_exit and end.drift_report is None:  # its exit handler wrote the record
    print(f"error: {message}", file=sys.stderr)
    return exit_code(end.status)
  with console.Console(log_path or os.devnull, verbose=args.verbose) as out:  # TF's noise
    return finish(runner, log_path, end, out.error)


def final_status(end) -> tuple:
  """(state, message) of a run's end as Vertex AI reports a pipeline's final status."""
  if end.completed:
    return ("SUCCEEDED", "")
  task = f" The failed tasks are: [{end.stage}]." if end.stage else ""
  return ("FAILED", f"The DAG failed because some tasks failed.{task} {end.error}".strip())


if __name__ == "__main__":
  sys.exit(main())
