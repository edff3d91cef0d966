"""RunReport's KFP shapes (the whole executor runs in tests/spec_runner_e2e_test.py)."""

from reporting import executor


def test_the_confusion_matrix_in_kfp_classification_metrics_shape():
  matrix = {"classes": ["cat", "dog"], "counts": [[8, 2], [3, 7]]}
  assert executor.kfp_confusion_matrix(matrix) == {
    "annotationSpecs": [{"displayName": "cat"}, {"displayName": "dog"}],
    "rows": [{"row": [8, 2]}, {"row": [3, 7]}],
  }


def test_upstream_metadata_read_as_mlmd_values():
  """The Kubeflow v2 container hands a blessing's metadata over as struct values."""
  from tfx.types import standard_artifacts  # noqa: PLC0415  (TensorFlow/TFX: loaded when used, not on import)

  blessing = standard_artifacts.ModelBlessing()
  blessing.set_json_value_custom_property("blessed", 1.0)
  blessing.set_json_value_custom_property("note", "ok")
  blessing.set_json_value_custom_property("rate", 0.25)
  plain = executor._plain(blessing)  # noqa: SLF001  (the artifact conversion under test)
  assert plain.custom_properties["blessed"].int_value == 1
  assert plain.custom_properties["note"].string_value == "ok"
  assert plain.custom_properties["rate"].double_value == 0.25
