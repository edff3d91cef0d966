"""kubeflow_runner compiles the same pipeline to a KFP v2 spec."""

import json
import os
import re
import subprocess
import sys

import pytest

import kubeflow_runner
from pipeline import kfp_spec
from pipeline.cloud import CloudConfig
from tests import fake_google, runs

pytestmark = pytest.mark.integration  # Beam, TFX executors, training or subprocesses

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STAGES = set(runs.STAGES)


def _compile(tmp_path, *flags):
  spec_path = tmp_path / "pipeline.json"
  result = runs.compile_spec(spec_path, *flags)
  assert result.returncode == 0, result.stderr[-3000:]
  return spec_path, json.loads(spec_path.read_text())


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
  """(path, spec) of the pipeline compiled with the default flags, shared by the tests."""
  return _compile(tmp_path_factory.mktemp("compiled"))


def _title(artifact_type):
  """The schema title of a compiled artifact type (TFX writes it inside instanceSchema)."""
  return artifact_type.get("schemaTitle") or re.search(
    r"^title: (\S+)", artifact_type["instanceSchema"], re.M
  ).group(1)


def test_compiles_every_stage_into_a_kfp_v2_spec(compiled):
  _, spec = compiled
  pipeline_spec = spec["pipelineSpec"]
  tasks = kfp_spec.tasks(spec)  # the stages are a sub-DAG; the root also has the exit handler
  assert STAGES <= set(tasks)
  assert "Transform" in tasks["Trainer"]["dependentTasks"]
  assert set(tasks["ServingCheck"]["dependentTasks"]) == {"Trainer", "ImageExampleGen"}
  assert {"ServingCheck", "Evaluator", "TFLiteExport"} <= set(
    tasks["ServingPusher"]["dependentTasks"]
  )
  # The evaluation as the Vertex AI / KFP UI shows it: KFP's own artifact types.
  report = pipeline_spec["components"][tasks["RunReport"]["componentRef"]["name"]]
  titles = {
    key: _title(output["artifactType"])
    for key, output in report["outputDefinitions"]["artifacts"].items()
  }
  assert titles == {
    "confusion_matrix": "system.ClassificationMetrics",
    "model_card": "system.Markdown",
  }
  assert "ServingPusher" in tasks["RunReport"]["dependentTasks"]
  # Vertex may take any stage from its cache but the push, which checks the serving dir.
  assert tasks["ServingPusher"]["cachingOptions"] == {"enableCache": False}
  assert tasks["Trainer"]["cachingOptions"] == {"enableCache": True}
  # The served model (the newest push that pushed) is the Evaluator's baseline; the latest
  # blessed model (two resolver tasks) the Trainer's warm start.
  assert "served_model_resolver" in tasks["Evaluator"]["dependentTasks"]
  served = pipeline_spec["components"][tasks["served_model_resolver"]["componentRef"]["name"]]
  resolver = pipeline_spec["deploymentSpec"]["executors"][served["executorLabel"]]["resolver"]
  assert resolver["outputArtifactQueries"]["served_model"]["filter"] == (
    'schema_title="tfx.PushedModel" AND state=LIVE AND metadata.pushed.number_value=1 '
    "AND metadata.new_version.number_value<2"
  )
  assert "warm_start_model_resolver-model-resolver" in tasks["Trainer"]["dependentTasks"]
  # The exit handler: after every run, fed its final status; the sub-DAG gets the parameters.
  root = pipeline_spec["root"]["dag"]["tasks"]
  assert set(root) == {"tfx-dag", "RunRecordOnExit"}
  on_exit = root["RunRecordOnExit"]
  assert on_exit["triggerPolicy"] == {"strategy": "ALL_UPSTREAM_TASKS_COMPLETED"}
  assert on_exit["inputs"]["parameters"]["final_status"] == {
    "taskFinalStatus": {"producerTask": "tfx-dag"}
  }
  assert root["tfx-dag"]["inputs"]["parameters"] == {
    "data_root": {"componentInputParameter": "data_root"}
  }
  images = {
    e["container"]["image"]
    for e in pipeline_spec["deploymentSpec"]["executors"].values()
    if "container" in e
  }
  assert images == {"example.com/image-pipeline:test"}
  assert spec["runtimeConfig"]["gcsOutputDirectory"] == "gs://bucket/tfx/pipeline"


GOLDEN = os.path.join(ROOT, "tests", "golden", "pipeline_spec.json")


def test_the_compiled_spec_is_the_golden_one(compiled):
  """The whole spec, every edit of pipeline/kfp_spec.py included, against a reviewed copy: a
  renamed node, a changed resolver filter or a lost parameter shows here. After a deliberate
  change: UPDATE_GOLDEN=1 pytest tests/kubeflow_runner_test.py -k golden, and review the diff."""
  _, spec = compiled
  # The checkout's own path (the schema file's) is the same in every checkout.
  text = json.dumps(spec, indent=1, sort_keys=True).replace(ROOT, "<checkout>") + "\n"
  if os.environ.get("UPDATE_GOLDEN"):
    with open(GOLDEN, "w") as f:
      f.write(text)
  with open(GOLDEN) as f:
    golden = f.read()
  changed = [
    f"{i}: {a!r} != {b!r}"
    for i, (a, b) in enumerate(zip(text.splitlines(), golden.splitlines()), 1)
    if a != b
  ]
  assert text == golden, "\n".join(changed[:20]) or "lines added or removed at the end"


def test_the_ingested_folder_is_a_runtime_parameter(compiled):
  _, spec = compiled
  pipeline_spec = spec["pipelineSpec"]
  assert pipeline_spec["root"]["inputDefinitions"]["parameters"] == {
    "data_root": {"type": "STRING"}
  }
  assert spec["runtimeConfig"]["parameters"] == {"data_root": {"stringValue": "gs://bucket/images"}}
  example_gen = kfp_spec.tasks(spec)["ImageExampleGen"]
  assert example_gen["inputs"]["parameters"]["input_base"] == {
    "componentInputParameter": "data_root"
  }


def test_missing_data_dir_is_a_usage_error(tmp_path):
  result = subprocess.run(
    [sys.executable, "kubeflow_runner.py", "--compile", str(tmp_path / "p.json")],
    cwd=ROOT,
    capture_output=True,
    text=True,
    timeout=300,
  )
  assert result.returncode == 2
  assert result.stderr.strip().splitlines()[-1] == (
    "error: --data-dir is required (a path the pipeline's workers can read)"
  )


@pytest.mark.parametrize(
  "flags, message",
  [
    (["--data-dir", "gs://b/i"], "error: --image is required with a gs:// --output-dir"),
    (
      [
        "--image",
        "x:1",
        "--data-dir",
        "gs://b/i",
        "--model",
        "efficientnet",
        "--weights",
        __file__,
      ],
      f"error: --weights {__file__} is a file on this machine",
    ),
    (
      ["--image", "x:1", "--data-dir", "/tmp"],
      "error: --data-dir /tmp is a folder on this machine",
    ),
    (
      ["--image", "x:1", "--data-dir", "gs://b/i", "--infer-dir", "/tmp"],
      "error: --infer-dir /tmp is a folder on this machine",
    ),
  ],
)
def test_a_cloud_spec_refuses_what_cloud_tasks_could_not_use(tmp_path, flags, message):
  spec = tmp_path / "p.json"
  result = subprocess.run(
    [
      sys.executable,
      "kubeflow_runner.py",
      "--compile",
      str(spec),
      "--output-dir",
      "gs://b/tfx",
      "--num-classes",
      "3",
      *flags,
    ],
    cwd=ROOT,
    capture_output=True,
    text=True,
    timeout=300,
  )
  assert result.returncode == 2
  assert result.stderr.strip().splitlines()[-1].startswith(message)
  assert not spec.exists()


def test_cloud_flags_put_beam_stages_on_dataflow_and_training_on_vertex_gpus(tmp_path):
  _, spec = _compile(
    tmp_path,
    "--project",
    "my-project",
    "--region",
    "europe-west4",
    "--service-account",
    "runner@my-project.iam.gserviceaccount.com",
    "--dataflow",
    "--vertex-training",
    "--machine-type",
    "n1-standard-16",
    "--accelerator-type",
    "NVIDIA_TESLA_V100",
    "--accelerator-count",
    "2",
    "--workers",
    "3",
    "--vertex-endpoint",
    "digits",
  )
  pipeline_spec = spec["pipelineSpec"]
  tasks = kfp_spec.tasks(spec)
  executors = pipeline_spec["deploymentSpec"]["executors"]

  def executor(task):
    return json.dumps(
      executors[pipeline_spec["components"][tasks[task]["componentRef"]["name"]]["executorLabel"]]
    )

  def exec_property(task, name):  # TFX writes constants as {"constantValue": {"stringValue"}}
    value = tasks[task]["inputs"]["parameters"][name]["runtimeValue"]
    return json.loads(value.get("constant") or value["constantValue"]["stringValue"])

  for stage in ("ImageExampleGen", "StatisticsGen", "Transform", "Evaluator"):
    text = executor(stage)
    assert "--runner=DataflowRunner" in text and "--project=my-project" in text, stage
    assert "--region=europe-west4" in text and "--temp_location=gs://bucket/tfx/tmp" in text
    assert "--sdk_container_image=example.com/image-pipeline:test" in text
  assert "DataflowRunner" not in executor("Trainer")
  assert "google_cloud_ai_platform.trainer.executor.GenericExecutor" in executor("Trainer")
  trainer_config = exec_property("Trainer", "custom_config")
  assert trainer_config["ai_platform_enable_vertex"] is True
  assert trainer_config["ai_platform_vertex_region"] == "europe-west4"
  # Vertex's pool 0 is the chief, pool 1 the other workers; it gives each its TF_CONFIG.
  chief, workers = trainer_config["ai_platform_training_args"]["worker_pool_specs"]
  assert (chief["replica_count"], workers["replica_count"]) == (1, 2)
  for pool in (chief, workers):
    assert pool["machine_spec"] == {
      "machine_type": "n1-standard-16",
      "accelerator_type": "NVIDIA_TESLA_V100",
      "accelerator_count": 2,
    }
    assert pool["container_spec"]["image_uri"] == "example.com/image-pipeline:test"
  assert trainer_config["model"] == "cnn"  # the training settings travel along
  endpoint = exec_property("VertexEndpointPusher", "custom_config")
  assert endpoint["ai_platform_serving_args"]["endpoint_name"] == "digits"
  assert {"Evaluator", "ServingCheck"} <= set(tasks["VertexEndpointPusher"]["dependentTasks"])


@pytest.mark.parametrize(
  "flags, message",
  [
    (["--vertex-training", "--workers", "0"], "--workers must be at least 1, got 0"),
    (["--vertex-training", "--accelerator-count", "-1"], "--accelerator-count must be at least 0"),
    (
      ["--vertex-training", "--accelerator-type", "", "--accelerator-count", "2"],
      "--accelerator-count above 0 needs --accelerator-type",
    ),
    (["--workers", "2"], "--workers above 1 needs --vertex-training"),
  ],
)
def test_bad_training_job_flags_are_usage_errors(tmp_path, capsys, flags, message):
  spec = tmp_path / "p.json"
  argv = ["--compile", str(spec), "--data-dir", "gs://b/i", "--num-classes", "3", "--project", "p"]
  assert kubeflow_runner.main([*argv, *flags]) == 2
  err = capsys.readouterr().err
  assert err.startswith(f"error: {message}") and err.count("\n") == 1, err
  assert not spec.exists()


def test_a_single_cpu_training_machine_has_one_pool_without_accelerators():
  job = CloudConfig(vertex_training=True, accelerator_type="", accelerator_count=0)
  (pool,) = job.training_config()["ai_platform_training_args"]["worker_pool_specs"]
  assert pool["replica_count"] == 1 and pool["machine_spec"] == {"machine_type": "n1-standard-8"}


def test_infer_dir_compiles_its_ingestion_and_bulk_inferrer_on_dataflow(tmp_path):
  _, spec = _compile(
    tmp_path, "--infer-dir", "gs://bucket/unlabelled", "--dataflow", "--project", "my-project"
  )
  pipeline_spec = spec["pipelineSpec"]
  tasks = kfp_spec.tasks(spec)
  executors = pipeline_spec["deploymentSpec"]["executors"]
  assert {"InferenceExampleGen", "BulkInferrer"} <= set(tasks)
  # It scores the Trainer's model once ServingPusher says it was pushed (not the blessing).
  assert set(tasks["BulkInferrer"]["dependentTasks"]) == {
    "InferenceExampleGen",
    "Trainer",
    "ServingPusher",
  }
  assert "BulkInferrer" in tasks["RunReport"]["dependentTasks"]  # its summary has inference
  for stage in ("InferenceExampleGen", "BulkInferrer"):
    executor = executors[
      pipeline_spec["components"][tasks[stage]["componentRef"]["name"]]["executorLabel"]
    ]
    text = json.dumps(executor)
    assert "--runner=DataflowRunner" in text and "--project=my-project" in text, stage
  ingest = executors[
    pipeline_spec["components"][tasks["InferenceExampleGen"]["componentRef"]["name"]][
      "executorLabel"
    ]
  ]
  # the same fingerprinting driver as ImageExampleGen's (components/image_example_gen/kfp_driver)
  assert "components.image_example_gen.kfp_driver" in json.dumps(ingest)
  params = tasks["InferenceExampleGen"]["inputs"]["parameters"]
  assert json.dumps(params["input_base"]).count("gs://bucket/unlabelled") == 1
  inferrer = tasks["BulkInferrer"]["inputs"]["parameters"]
  assert "bulk_inference" in json.dumps(inferrer["model_spec"])


def test_cloud_stages_need_a_project(tmp_path, monkeypatch):
  monkeypatch.delenv("GOOGLE_CLOUD_PROJECT", raising=False)
  result = subprocess.run(
    [
      sys.executable,
      "kubeflow_runner.py",
      "--compile",
      str(tmp_path / "p.json"),
      "--data-dir",
      "gs://b/i",
      "--num-classes",
      "3",
      "--dataflow",
    ],
    cwd=ROOT,
    capture_output=True,
    text=True,
    timeout=300,
  )
  assert result.returncode == 2
  assert result.stderr.strip().splitlines()[-1].startswith("error: --dataflow, --vertex-training")


def test_submit_and_schedule_reach_vertex_through_the_sdks_public_calls(tmp_path, compiled):
  """PipelineJob.submit and create_schedule, run for real against a local stand-in for Google's
  APIs: what Vertex AI receives, the names printed, and a refusal as one line."""
  _, spec = compiled
  account = "runner@my-project.iam.gserviceaccount.com"
  with fake_google.serve() as google:
    key = tmp_path / "key.json"
    fake_google.service_account_key(str(key), google, account, "my-project")
    env = {k: v for k, v in os.environ.items() if k != "GOOGLE_CLOUD_PROJECT"}
    env.update(GOOGLE_APPLICATION_CREDENTIALS=str(key), STORAGE_EMULATOR_HOST=google.url)

    def runner(*action, project="my-project"):
      google.requests.clear()
      cloud = ("--project", project, "--region", "europe-west4", "--service-account", account)
      return runs.compile_spec(
        tmp_path / "p.json", *cloud, "--api-endpoint", google.url, *action, env=env
      )

    def posted(suffix):
      (request,) = [r for r in google.requests if r["path"].endswith(suffix)]
      assert fake_google.caller(request) == account  # signed with the key's credentials
      return request

    result = runner("--submit")
    assert result.returncode == 0, result.stderr[-3000:]
    request = posted("/pipelineJobs")
    assert request["path"] == "/v1/projects/my-project/locations/europe-west4/pipelineJobs"
    job = request["body"]
    assert (job["displayName"], job["serviceAccount"]) == ("image-classification", account)
    assert job["runtimeConfig"]["gcsOutputDirectory"] == "gs://bucket/tfx/pipeline"
    assert set(job["pipelineSpec"]["root"]["dag"]["tasks"]) == set(
      spec["pipelineSpec"]["root"]["dag"]["tasks"]
    )
    job_id = request["query"].split("pipelineJobId=")[1].split("&")[0]
    assert result.stdout.strip().splitlines()[-1] == (
      "[kubeflow_runner] pipeline job created: "
      f"projects/my-project/locations/europe-west4/pipelineJobs/{job_id}"
    )
    # The SDK creates the missing pipeline-root bucket and lets the service account use it.
    assert posted("/storage/v1/b")["body"]["name"] == "bucket"
    policy = [r for r in google.requests if r["method"] == "PUT" and r["path"].endswith("/iam")]
    assert f"serviceAccount:{account}" in json.dumps(policy[0]["body"])

    result = runner("--schedule", "TZ=Europe/Paris 0 3 * * *")
    assert result.returncode == 0, result.stderr[-3000:]
    request = posted("/schedules")
    assert request["path"] == "/v1/projects/my-project/locations/europe-west4/schedules"
    schedule = request["body"]
    assert schedule["cron"] == "TZ=Europe/Paris 0 3 * * *"
    assert int(schedule["maxConcurrentRunCount"]) == 1
    assert schedule["displayName"] == "image-classification-schedule"
    scheduled = schedule["createPipelineJobRequest"]["pipelineJob"]
    assert scheduled["serviceAccount"] == account
    assert scheduled["runtimeConfig"]["gcsOutputDirectory"] == "gs://bucket/tfx/pipeline"
    assert result.stdout.strip().splitlines()[-1] == (
      "[kubeflow_runner] schedule created: "
      "projects/my-project/locations/europe-west4/schedules/schedule-1"
    )

    google.refuse_project = "other-project"
    result = runner("--submit", project="other-project")
    assert result.returncode == 2
    assert (
      result.stderr.strip().splitlines()[-1].startswith("error: Vertex AI refused the request: ")
    ), result.stderr[-3000:]
    assert "Permission denied" in result.stderr.strip().splitlines()[-1]
    assert "Traceback" not in result.stderr


def test_submit_without_credentials_is_one_clear_line(tmp_path):
  env = {
    k: v
    for k, v in os.environ.items()
    if k not in ("GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_CLOUD_PROJECT")
  }
  env.update(
    HOME=str(tmp_path),
    CLOUDSDK_CONFIG=str(tmp_path / "gcloud"),
    GCE_METADATA_HOST="127.0.0.1:9",
    GCE_METADATA_IP="127.0.0.1:9",
  )
  for action in (["--submit"], ["--schedule", "0 3 * * *"]):
    result = runs.compile_spec(tmp_path / "p.json", *action, env=env)
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.strip().splitlines()[-1].startswith("error: no Google Cloud credentials")
    assert "Traceback" not in result.stderr


def test_dockerfile_builds_on_tfx_image_and_installs_the_project():
  from pipeline.cloud import DEFAULT_IMAGE  # noqa: PLC0415  (TensorFlow/TFX behind it: loaded when used)

  with open(os.path.join(ROOT, "Dockerfile")) as f:
    lines = [line.strip() for line in f if line.strip() and not line.startswith("#")]
  assert lines[0] == f"FROM {DEFAULT_IMAGE}"
  assert "COPY . ." in lines
  assert lines[-1] == "RUN python -m pip install --no-cache-dir -c requirements.txt ."
