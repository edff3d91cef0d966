"""The confusion matrix drawn as counts and as shares of each true class."""

from reporting import plots

MATRIX = {"classes": ["cat", "$dog"], "counts": [[8, 2], [1, 3]]}


def test_the_normalized_matrix_shows_each_true_class_as_shares(tmp_path):
  figure = plots.plot_confusion_matrix(MATRIX, normalize=True)
  (axes,) = figure.axes
  assert sorted(t.get_text() for t in axes.texts) == ["0.20", "0.25", "0.75", "0.80"]
  assert axes.get_title() == "Confusion matrix, as shares of each true class"
  assert [t.get_text() for t in axes.get_yticklabels()] == ["cat", "\\$dog"]
  plots.pyplot().close(figure)
  counts = plots.plot_confusion_matrix(MATRIX)
  assert sorted(t.get_text() for t in counts.axes[0].texts) == ["1", "2", "3", "8"]
  plots.pyplot().close(counts)
  path = tmp_path / "confusion_matrix_normalized.png"
  plots.plot_confusion_matrix(MATRIX, str(path), normalize=True)
  assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
