"""RunReport's KFP shapes (the whole executor runs in tests/spec_runner_e2e_test.py)."""

from components.run_report import executor


def test_the_confusion_matrix_in_kfp_classification_metrics_shape():
  matrix = {"classes": ["cat", "dog"], "counts": [[8, 2], [3, 7]]}
  assert executor.kfp_confusion_matrix(matrix) == {
      "annotationSpecs": [{"displayName": "cat"}, {"displayName": "dog"}],
      "rows": [{"row": [8, 2]}, {"row": [3, 7]}]}
