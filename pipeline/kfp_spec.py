"""Every edit this project makes to the spec KubeflowV2DagRunner compiles, in one place. Each is
something TFX 1.21's Kubeflow V2 compiler cannot express; tests/kfp_spec_test.py holds the
edited spec of a fixed pipeline against a golden file, and tools.spec_runner runs it.

- ImageExampleGen's preCacheCheck runs this project's driver (components/image_example_gen/
  kfp_driver.py), whose fingerprint covers every file it reads;
- every executor task runs TFX's executor entry point through pipeline/kfp_executor.py, which
  imports without the garbage collector (pipeline/heavy_imports.py);
- the drift baseline's resolver asks for an earlier span than this run's (with spans);
- the served-model resolver asks for ServingPusher's pushes that pushed;
- ServingPusher is never taken from Vertex's cache (it must look at the serving dir every run);
- with an exit handler (the run record of a failed run, reporting/exit_handler.py), TFX puts
  the pipeline's tasks in a sub-DAG ("tfx-dag") whose tasks still read the pipeline's
  parameters (data_root) as their parent's inputs, which TFX does not declare: the sub-DAG
  declares and receives them.

Only tools.spec_runner (this machine) has run the edited spec: Vertex AI Pipelines' resolver
filters and exit handler follow its documented behaviour, untested against the service here.
"""

import json
from typing import Any, Dict, Iterable

from schemas import nodes, properties

TFX_DRIVER = "tfx.orchestration.kubeflow.v2.file_based_example_gen.driver"
IMAGE_DRIVER = "components.image_example_gen.kfp_driver"
EXAMPLE_GEN_EXECUTOR = "components.image_example_gen.executor.Executor"
TFX_EXECUTOR_ENTRY = "tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor"
EXECUTOR_ENTRY = "pipeline.kfp_executor"
ALWAYS_RUN = (nodes.PUSHER,)  # never cached (locally: pipeline/local_run.py)


TFX_DAG = "tfx-dag"  # the sub-DAG of a spec with an exit handler (TFX's utils.TFX_DAG_NAME)


def _pipeline(spec: Dict[str, Any]) -> Dict[str, Any]:
  return spec["pipelineSpec"]


def tasks(spec: Dict[str, Any]) -> Dict[str, Any]:
  """The pipeline's tasks: the root DAG's, or the sub-DAG's when the spec has an exit handler."""
  pipeline = _pipeline(spec)
  sub_dag = pipeline.get("components", {}).get(TFX_DAG, {}).get("dag")
  return sub_dag["tasks"] if sub_dag else pipeline["root"]["dag"]["tasks"]


def _resolver(spec: Dict[str, Any], task_name: str):
  """(task, component, executor) of a resolver task, or None when the spec has none."""
  pipeline = _pipeline(spec)
  task = tasks(spec).get(task_name)
  if task is None:
    return None
  component = pipeline["components"][task["componentRef"]["name"]]
  return task, component, pipeline["deploymentSpec"]["executors"][component["executorLabel"]]


def use_image_driver(spec: Dict[str, Any]) -> int:
  """Points ImageExampleGen's preCacheCheck at kfp_driver; returns how many executors changed
  (0 when done already)."""
  changed = 0
  for executor in _pipeline(spec)["deploymentSpec"]["executors"].values():
    container = executor.get("container", {})
    hook = container.get("lifecycle", {}).get("preCacheCheck", {})
    if EXAMPLE_GEN_EXECUTOR in container.get("args", []) and TFX_DRIVER in hook.get("command", []):
      hook["command"] = [IMAGE_DRIVER if part == TFX_DRIVER else part for part in hook["command"]]
      changed += 1
  return changed


def use_executor_entry(spec: Dict[str, Any]) -> int:
  """Points every executor task's command at kfp_executor; returns how many changed (0 when done
  already)."""
  changed = 0
  for executor in _pipeline(spec)["deploymentSpec"]["executors"].values():
    container = executor.get("container", {})
    if TFX_EXECUTOR_ENTRY in container.get("command", []):
      container["command"] = [
        EXECUTOR_ENTRY if part == TFX_EXECUTOR_ENTRY else part for part in container["command"]
      ]
      changed += 1
  return changed


def previous_statistics_filter(spec: Dict[str, Any]) -> bool:
  """Narrows the previous-statistics resolver to an earlier span than this run's: it takes
  StatisticsGen's output as an input (so it runs after it) and adds `metadata.span.number_value<`
  that input's span to its filter, the placeholder TFX's own blessed-model resolver uses.
  Returns whether the spec had the resolver."""
  found = _resolver(spec, nodes.PREVIOUS_STATISTICS_RESOLVER)
  if found is None:
    return False
  task, component, executor = found
  query = executor["resolver"]["outputArtifactQueries"]["statistics"]
  query["filter"] += (
    f" AND metadata.{properties.SPAN}.number_value<"
    "{{$.inputs.artifacts['input'].metadata['span']}}"
  )
  component.setdefault("inputDefinitions", {}).setdefault("artifacts", {})["input"] = {
    "artifactType": component["outputDefinitions"]["artifacts"]["statistics"]["artifactType"]
  }
  task.setdefault("inputs", {}).setdefault("artifacts", {})["input"] = {
    "taskOutputArtifact": {"outputArtifactKey": "statistics", "producerTask": nodes.STATISTICS_GEN}
  }
  task["dependentTasks"] = sorted(set(task.get("dependentTasks", [])) | {nodes.STATISTICS_GEN})
  return True


def served_model_filter(spec: Dict[str, Any]) -> bool:
  """Narrows the served-model resolver (the latest PushedModel) to ServingPusher's pushes that
  pushed: `pushed` 1, and a `new_version` (0 or 1), which ServingPusher alone records (not
  Vertex's endpoint Pusher). Returns whether the spec had the resolver."""
  found = _resolver(spec, nodes.SERVED_MODEL_RESOLVER)
  if found is None:
    return False
  query = found[2]["resolver"]["outputArtifactQueries"]["served_model"]
  if properties.NEW_VERSION not in query["filter"]:
    query["filter"] += (
      f" AND metadata.{properties.PUSHED}.number_value=1"
      f" AND metadata.{properties.NEW_VERSION}.number_value<2"
    )
  return True


def never_cache(spec: Dict[str, Any], names: Iterable[str] = ALWAYS_RUN) -> None:
  """Turns Vertex's cache off for these tasks (TFX sets one caching option for the whole
  pipeline)."""
  for name in names:
    tasks(spec)[name]["cachingOptions"] = {"enableCache": False}


def sub_dag_parameters(spec: Dict[str, Any]) -> bool:
  """The sub-DAG of a spec with an exit handler declares the pipeline's parameters and its task
  passes them on, so its tasks' `componentInputParameter`s resolve. Returns whether the spec
  has a sub-DAG."""
  pipeline = _pipeline(spec)
  component = pipeline.get("components", {}).get(TFX_DAG)
  if component is None:
    return False
  parameters = pipeline["root"].get("inputDefinitions", {}).get("parameters", {})
  if parameters:
    component.setdefault("inputDefinitions", {})["parameters"] = dict(parameters)
    task = pipeline["root"]["dag"]["tasks"][TFX_DAG]
    task.setdefault("inputs", {})["parameters"] = {
      name: {"componentInputParameter": name} for name in parameters
    }
  return True


def edit(spec: Dict[str, Any], by_span: bool) -> Dict[str, Any]:
  """Every edit, in place; returns the spec."""
  sub_dag_parameters(spec)
  use_image_driver(spec)
  use_executor_entry(spec)
  if by_span:
    previous_statistics_filter(spec)
  served_model_filter(spec)
  never_cache(spec)
  return spec


def edit_file(spec_path: str, by_span: bool) -> None:
  with open(spec_path) as f:
    spec = edit(json.load(f), by_span)
  with open(spec_path, "w") as f:
    json.dump(spec, f, indent=2, sort_keys=True)
