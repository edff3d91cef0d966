"""pipeline/kfp_executor.py: which executor module a task's arguments name."""

import pytest

from pipeline import kfp_executor


@pytest.mark.parametrize(
  "argv",
  [
    ["x", "--executor_class_path", "components.evaluator.executor.Executor", "--json", "{}"],
    ["x", "--json", "{}", "--executor_class_path=components.evaluator.executor.Executor"],
  ],
)
def test_the_executor_module_is_the_class_path_without_its_class(argv):
  assert kfp_executor.executor_module(argv) == "components.evaluator.executor"


@pytest.mark.parametrize(
  "argv", [["x"], ["x", "--executor_class_path"], ["x", "--executor_class_path", "Executor"]]
)
def test_no_module_named_is_none_and_tfx_s_parser_says_what_is_missing(argv):
  assert kfp_executor.executor_module(argv) is None
