"""pipeline/kfp_executor.py: the executor class TFX's flags parser finds is imported frozen."""

import gc
import sys

import pytest
from tfx.orchestration.kubeflow.v2.container import kubeflow_v2_run_executor as entry

from pipeline import kfp_executor

MODULE = "xml.dom.minidom"  # a module no test imports: whether it was imported shows


@pytest.mark.parametrize(
  "argv",
  [
    ["x", "--executor_class_path", f"{MODULE}.Node", "--json_serialized_invocation_args", "{}"],
    ["x", "--json_serialized_invocation_args", "{}", f"--executor_class_path={MODULE}.Node"],
  ],
)
def test_the_executor_module_is_imported_and_frozen(argv, monkeypatch):
  monkeypatch.delitem(sys.modules, MODULE, raising=False)
  frozen = gc.get_freeze_count()
  kfp_executor.import_executor(entry._parse_flags(argv))  # noqa: SLF001  (TFX's own parser)
  assert MODULE in sys.modules
  assert gc.get_freeze_count() > frozen and gc.isenabled()


def test_a_class_path_without_a_module_is_tfx_s_own_import_error():
  argv = ["x", "--executor_class_path", "Executor", "--json_serialized_invocation_args", "{}"]
  parsed = entry._parse_flags(argv)  # noqa: SLF001  (TFX's own parser)
  with pytest.raises(ImportError):
    kfp_executor.import_executor(parsed)


def test_no_executor_named_is_tfx_s_parser_saying_what_is_missing(capsys):
  with pytest.raises(SystemExit):
    entry._parse_flags(["x", "--json_serialized_invocation_args", "{}"])  # noqa: SLF001
  assert "--executor_class_path" in capsys.readouterr().err
