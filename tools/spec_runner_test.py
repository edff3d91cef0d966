"""SpecRunner on small hand-written specs whose tasks are real subprocesses."""

import json
import sys

import pytest

from schemas.outcomes import ExitCode
from tools import spec_runner

pytestmark = pytest.mark.integration  # the tasks are subprocesses

# A task command that records its ExecutorInput and writes metadata for its one output.
TASK = """
import json, os, sys
executor_input = json.loads(sys.argv[1])
out = executor_input["outputs"]
os.makedirs(os.path.dirname(out["outputFile"]), exist_ok=True)
(artifact,) = out["artifacts"]["result"]["artifacts"]
upstream = executor_input["inputs"]["artifacts"].get("upstream", {"artifacts": []})["artifacts"]
artifact["metadata"] = {"seen": executor_input["inputs"]["parameters"],
                        "upstream": [a["metadata"] for a in upstream],
                        "good": 1, "self": artifact["name"]}
with open(out["outputFile"], "w") as f:
  json.dump({"artifacts": {"result": {"artifacts": [artifact]}}}, f)
"""
TYPE = {"instanceSchema": "title: tfx.Examples\ntype: object\n"}


def _spec(root, with_parameter=True):
  component = {
    "executorLabel": "task_executor",
    "outputDefinitions": {"artifacts": {"result": {"artifactType": TYPE}}},
  }
  upstream = {
    "upstream": {"taskOutputArtifact": {"producerTask": "first", "outputArtifactKey": "result"}}
  }
  return {
    "pipelineSpec": {
      "pipelineInfo": {"name": "tiny"},
      "components": {"task": component},
      "deploymentSpec": {
        "executors": {
          "task_executor": {
            "container": {"image": "unused", "command": ["python", "-c", TASK], "args": ["{{$}}"]}
          }
        }
      },
      "root": {
        "inputDefinitions": {"parameters": {"data_root": {"type": "STRING"}}},
        "dag": {
          "tasks": {
            "second": {
              "componentRef": {"name": "task"},
              "dependentTasks": ["first"],
              "inputs": {
                "artifacts": upstream,
                "parameters": {"steps": {"runtimeValue": {"constantValue": {"intValue": "7"}}}},
              },
            },
            "first": {
              "componentRef": {"name": "task"},
              "inputs": {"parameters": {"input_base": {"componentInputParameter": "data_root"}}},
            },
          }
        },
      },
    },
    "runtimeConfig": {
      "gcsOutputDirectory": str(root),
      **({"parameters": {"data_root": {"stringValue": "/compiled"}}} if with_parameter else {}),
    },
  }


def test_tasks_run_in_dependency_order_with_parameters_and_upstream_metadata(tmp_path):
  runner = spec_runner.SpecRunner(_spec(tmp_path), {"data_root": "/given"}, run_id="r")
  outputs = runner.run()
  (first,) = outputs["first"]["result"]
  (second,) = outputs["second"]["result"]
  assert first["uri"] == str(tmp_path / "r" / "first" / "result")
  assert first["metadata"]["seen"] == {"input_base": {"stringValue": "/given"}}
  assert second["metadata"]["seen"] == {"steps": {"intValue": "7"}}
  assert second["metadata"]["upstream"] == [first["metadata"]]


def test_compiled_parameter_values_are_the_defaults(tmp_path):
  outputs = spec_runner.SpecRunner(_spec(tmp_path), run_id="r").run()
  assert outputs["first"]["result"][0]["metadata"]["seen"]["input_base"] == {
    "stringValue": "/compiled"
  }


def test_unknown_parameter_and_remote_root_are_refused(tmp_path):
  with pytest.raises(spec_runner.SpecError, match="unknown pipeline parameter epochs"):
    spec_runner.SpecRunner(_spec(tmp_path), {"epochs": "3"})
  with pytest.raises(spec_runner.SpecError, match="not local"):
    spec_runner.SpecRunner(_spec("gs://bucket/root"))


def test_what_is_not_a_compiled_spec_is_refused(tmp_path):
  with pytest.raises(spec_runner.SpecError, match="not a compiled Kubeflow Pipelines v2 spec"):
    spec_runner.SpecRunner({"runtimeConfig": {"gcsOutputDirectory": str(tmp_path)}})
  spec = _spec(tmp_path)
  spec["pipelineSpec"]["root"]["dag"]["tasks"]["first"]["inputs"]["parameters"] = {
    "n": {"taskOutputParameter": {"producerTask": "second", "outputParameterKey": "n"}}
  }
  with pytest.raises(spec_runner.SpecError, match="parameter n comes from task_output_parameter"):
    spec_runner.SpecRunner(spec, run_id="r").run()


def test_cli_exit_codes(tmp_path, capsys):
  spec_path = tmp_path / "spec.json"
  spec = _spec(tmp_path / "root")
  spec["pipelineSpec"]["deploymentSpec"]["executors"]["task_executor"]["container"]["command"] = [
    sys.executable,
    "-c",
    "raise SystemExit(5)",
  ]
  spec_path.write_text(json.dumps(spec))
  assert spec_runner.main([str(spec_path), "--param", "nope=1"]) == ExitCode.USAGE
  assert spec_runner.main([str(spec_path)]) == ExitCode.ERROR
  assert "error: pipeline failed in first: task first failed (exit 5)" in capsys.readouterr().err
  summary = json.loads((tmp_path / "run_summary.json").read_text())  # the root's parent
  assert (summary["status"], summary["failed_stage"], summary["exit_code"]) == (
    "failed",
    "first",
    1,
  )


def test_resolvers_pick_the_newest_matching_artifact_of_earlier_runs(tmp_path):
  # As TFX compiles LatestBlessedModelStrategy: a filter on metadata, then one on the name the
  # first resolver's artifact points to.
  spec = _spec(tmp_path)
  pipeline = spec["pipelineSpec"]
  latest = 'schema_title="tfx.Examples" AND state=LIVE AND metadata.good.number_value=1'
  named = (
    'schema_title="tfx.Examples" AND state=LIVE AND '
    "name=\"{{$.inputs.artifacts['input'].metadata['self']}}\""
  )
  pipeline["deploymentSpec"]["executors"].update(
    {
      "latest_executor": {"resolver": {"outputArtifactQueries": {"found": {"filter": latest}}}},
      "named_executor": {"resolver": {"outputArtifactQueries": {"named": {"filter": named}}}},
    }
  )
  pipeline["components"].update(
    {"latest": {"executorLabel": "latest_executor"}, "named": {"executorLabel": "named_executor"}}
  )
  tasks = pipeline["root"]["dag"]["tasks"]
  tasks["latest"] = {"componentRef": {"name": "latest"}}
  tasks["named"] = {
    "componentRef": {"name": "named"},
    "inputs": {
      "artifacts": {
        "input": {"taskOutputArtifact": {"producerTask": "latest", "outputArtifactKey": "found"}}
      }
    },
  }
  tasks["first"]["inputs"]["artifacts"] = {
    "upstream": {"taskOutputArtifact": {"producerTask": "named", "outputArtifactKey": "named"}}
  }

  first_run = spec_runner.SpecRunner(spec, run_id="r1").run()
  assert first_run["latest"]["found"] == [] and first_run["named"]["named"] == []
  assert first_run["first"]["result"][0]["metadata"]["upstream"] == []
  second_run = spec_runner.SpecRunner(spec, run_id="r2").run()
  # The newest earlier artifact with good == 1 is r1's "second" (produced after "first").
  assert [a["name"] for a in second_run["latest"]["found"]] == ["r1/second/result"]
  assert second_run["named"]["named"] == second_run["latest"]["found"]
  assert second_run["first"]["result"][0]["metadata"]["upstream"] == [
    first_run["second"]["result"][0]["metadata"]
  ]


# DriftCheck's task under --on-drift block: its report in its anomalies artifact, then exit 1.
BLOCKING = """
import json, os, sys
out = json.loads(sys.argv[1])["outputs"]
(artifact,) = out["artifacts"]["anomalies"]["artifacts"]
os.makedirs(artifact["uri"], exist_ok=True)
feature = {"feature": "label", "measure": "L-infinity distance", "distance": 0.4,
           "threshold": 0.1, "drifted": True}
report = {"on_drift": "block", "span": 3, "split": "train", "features": [feature],
          "drifted": ["label"], "baseline": {"statistics": "/s/2", "span": 2}}
with open(os.path.join(artifact["uri"], "drift.json"), "w") as f:
  json.dump(report, f)
raise SystemExit(1)
"""


def test_a_run_drift_check_blocked_ends_not_blessed_with_the_drift_as_its_gate(tmp_path, capsys):
  """What a spec compiled with --on-drift block does when DriftCheck stops it: exit 3, each
  drifted feature a failed gate (the whole pipeline's: tests/schedule_e2e_test.py, locally)."""
  spec = _spec(tmp_path / "root")
  pipeline = spec["pipelineSpec"]
  pipeline["components"]["drift"] = {
    "executorLabel": "drift_executor",
    "outputDefinitions": {"artifacts": {"anomalies": {"artifactType": TYPE}}},
  }
  pipeline["deploymentSpec"]["executors"]["drift_executor"] = {
    "container": {"image": "unused", "command": ["python", "-c", BLOCKING], "args": ["{{$}}"]}
  }
  tasks = pipeline["root"]["dag"]["tasks"]
  tasks["DriftCheck"] = {"componentRef": {"name": "drift"}, "dependentTasks": ["first"]}
  tasks["second"]["dependentTasks"] = ["DriftCheck"]
  spec_path = tmp_path / "spec.json"
  spec_path.write_text(json.dumps(spec))
  assert spec_runner.main([str(spec_path), "--run-id", "day-3"]) == ExitCode.NOT_BLESSED
  out = capsys.readouterr().out
  assert "[spec_runner] run day-3 stopped by DriftCheck (--on-drift block)" in out
  summary = json.loads((tmp_path / "run_summary.json").read_text())
  assert (summary["status"], summary["blessed"], summary["exit_code"]) == ("not_blessed", False, 3)
  assert summary["failed_gates"] == [
    "drift: label: L-infinity distance 0.4000 > 0.1 (--on-drift block)"
  ]
  assert summary["stages"]["DriftCheck"]["state"] == "blocked"
  assert "second" not in summary["stages"]  # the run stopped there
