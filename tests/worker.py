"""One worker of a multi-worker training, as a process: the Trainer's run_fn on Transform's
output, its TF_CONFIG from the environment (as Vertex AI sets it on each machine).

  TF_CONFIG=... python -m tests.worker TRANSFORMED_URI SPLIT_NAMES GRAPH_URI OUT CONFIG_JSON

writes the model to OUT/model (serving dir OUT/model/Format-Serving) and logs to OUT/model_run.
"""

import json
import os
import sys

from tfx.types import standard_artifacts
from tfx.utils import path_utils

from tests import training
from trainer_module import train


def main(transformed_uri: str, split_names: str, graph_uri: str, out: str, config: str) -> None:
  transformed = standard_artifacts.Examples()
  transformed.uri, transformed.split_names = transformed_uri, split_names
  graph = standard_artifacts.TransformGraph()
  graph.uri = graph_uri
  fn_args = training.fn_args(transformed, graph, json.loads(config))
  fn_args.serving_model_dir = path_utils.serving_model_dir(os.path.join(out, "model"))
  fn_args.model_run_dir = os.path.join(out, "model_run")
  train.run_fn(fn_args)


if __name__ == "__main__":
  main(*sys.argv[1:])
