"""Every edit of the compiled spec (pipeline/kfp_spec.py), on the parts of a spec it touches."""

from pipeline import kfp_spec
from schemas import nodes


def _resolver_spec(task: str, key: str, title: str) -> dict:
  return {
    "pipelineSpec": {
      "root": {"dag": {"tasks": {task: {"componentRef": {"name": "c"}}}}},
      "components": {
        "c": {
          "executorLabel": "e",
          "outputDefinitions": {"artifacts": {key: {"artifactType": {"x": 1}}}},
        }
      },
      "deploymentSpec": {
        "executors": {
          "e": {
            "resolver": {
              "outputArtifactQueries": {key: {"filter": f'schema_title="{title}" AND state=LIVE'}}
            }
          }
        }
      },
    }
  }


def _filter(spec: dict, key: str) -> str:
  query = spec["pipelineSpec"]["deploymentSpec"]["executors"]["e"]["resolver"]
  return query["outputArtifactQueries"][key]["filter"]


def test_a_compiled_spec_asks_for_an_earlier_span_after_statistics_gen():
  spec = _resolver_spec(nodes.PREVIOUS_STATISTICS_RESOLVER, "statistics", "tfx.ExampleStatistics")
  assert kfp_spec.previous_statistics_filter(spec)
  task = spec["pipelineSpec"]["root"]["dag"]["tasks"][nodes.PREVIOUS_STATISTICS_RESOLVER]
  assert task["dependentTasks"] == ["StatisticsGen"]
  assert task["inputs"]["artifacts"]["input"]["taskOutputArtifact"]["producerTask"] == (
    "StatisticsGen"
  )
  assert _filter(spec, "statistics").endswith(
    "AND metadata.span.number_value<{{$.inputs.artifacts['input'].metadata['span']}}"
  )
  assert not kfp_spec.previous_statistics_filter({"pipelineSpec": {"root": {"dag": {"tasks": {}}}}})


def test_the_served_model_is_a_push_of_serving_pusher_that_pushed():
  spec = _resolver_spec(nodes.SERVED_MODEL_RESOLVER, "served_model", "tfx.PushedModel")
  assert kfp_spec.served_model_filter(spec)
  expected = (
    'schema_title="tfx.PushedModel" AND state=LIVE AND metadata.pushed.number_value=1 '
    "AND metadata.new_version.number_value<2"
  )
  assert _filter(spec, "served_model") == expected
  assert kfp_spec.served_model_filter(spec)  # idempotent
  assert _filter(spec, "served_model") == expected
  assert not kfp_spec.served_model_filter({"pipelineSpec": {"root": {"dag": {"tasks": {}}}}})


def test_image_example_gen_runs_its_own_driver_and_the_pusher_is_never_cached():
  hook = {"command": ["python", "-m", kfp_spec.TFX_DRIVER]}
  spec = {
    "pipelineSpec": {
      "root": {"dag": {"tasks": {nodes.PUSHER: {}}}},
      "deploymentSpec": {
        "executors": {
          "x": {
            "container": {
              "args": ["--executor_class_path", kfp_spec.EXAMPLE_GEN_EXECUTOR],
              "lifecycle": {"preCacheCheck": hook},
            }
          },
          "y": {"container": {"args": ["--executor_class_path", "other.Executor"]}},
        }
      },
    }
  }
  assert kfp_spec.use_image_driver(spec) == 1
  assert hook["command"] == ["python", "-m", kfp_spec.IMAGE_DRIVER]
  assert kfp_spec.use_image_driver(spec) == 0  # done already
  kfp_spec.never_cache(spec)
  assert spec["pipelineSpec"]["root"]["dag"]["tasks"][nodes.PUSHER] == {
    "cachingOptions": {"enableCache": False}
  }


def test_every_executor_task_runs_tfx_s_entry_point_through_kfp_executor():
  def task(*command):
    return {"container": {"command": list(command), "args": ["--executor_class_path", "m.E"]}}

  executors = {
    "a": task("python", "-m", kfp_spec.TFX_EXECUTOR_ENTRY),
    "b": task("python", "-m", kfp_spec.TFX_EXECUTOR_ENTRY),
    "r": {"resolver": {}},
    "other": task("python", "-m", "someone.elses_entry"),
  }
  spec = {"pipelineSpec": {"deploymentSpec": {"executors": executors}}}
  assert kfp_spec.use_executor_entry(spec) == 2
  for name in "ab":
    assert executors[name]["container"]["command"] == ["python", "-m", kfp_spec.EXECUTOR_ENTRY]
    assert executors[name]["container"]["args"] == ["--executor_class_path", "m.E"]
  assert executors["other"]["container"]["command"] == ["python", "-m", "someone.elses_entry"]
  assert executors["r"] == {"resolver": {}}
  assert kfp_spec.use_executor_entry(spec) == 0  # done already
