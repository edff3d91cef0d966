"""Advice on an accuracy near chance: the rule, its likely causes, and its console line."""

from reporting import advice, class_metrics, console_text
from schemas.run_record import RunRecord


def _metrics(counts, accuracy=None):
  """Evaluation metrics of a confusion matrix `counts` (rows: true class, columns: predicted)."""
  classes = [str(i) for i in range(len(counts))]
  per_class = class_metrics.per_class({}, {"classes": classes, "counts": counts})
  correct = sum(counts[i][i] for i in range(len(counts)))
  total = sum(map(sum, counts))
  return {"accuracy": accuracy if accuracy is not None else correct / total, "split": "eval",
          "examples": total, "per_class": per_class}  # fmt: skip


def _training(model="efficientnet", weights=None, epochs=2):
  settings = {"model": model, "model_variant": "b0" if model != "cnn" else None}
  return {"epochs": epochs, "settings": {**settings, "weights": weights}}


# Everything predicted as class 3 (the collapse): 10 classes of 10 eval images.
COLLAPSED = [[10 if j == 3 else 0 for j in range(10)] for _ in range(10)]


def test_a_collapsed_from_scratch_model_names_both_likely_causes():
  text = advice.near_chance(_metrics(COLLAPSED), _training(), 600)
  assert text == (
    "eval accuracy 0.1000 is near chance (0.1000); 100% of the images predicted 3. Likely "
    "cause: efficientnet b0 from scratch (--weights none) on 600 training images: "
    "ImageNet-family models trained from scratch need far more images (tens of thousands); "
    "start from ImageNet weights (--weights imagenet, the default, or a weights file), train "
    "longer, or use --model cnn; only 2 epochs: train longer (--epochs)"
  )


def test_near_chance_is_a_quarter_of_the_way_from_chance_to_one():
  diagonal = [[10 if i == j else 0 for j in range(10)] for i in range(10)]
  # Chance 0.1: below 0.325 is near it; the 0.21 is.
  assert advice.near_chance(_metrics(diagonal, 0.21), _training(), 600).startswith(
    "eval accuracy 0.2100 is near chance (0.1000). Likely cause: efficientnet b0"
  )
  assert advice.near_chance(_metrics(diagonal, 0.33), _training(), 600) is None
  # The largest class's share is chance when it is more than 1/classes: 90 of 100 here.
  skewed = [[90, 0], [10, 0]]
  assert advice.chance(_metrics(skewed)["per_class"]) == 0.9
  assert advice.near_chance(_metrics(skewed), _training(epochs=20), 600).startswith(
    "eval accuracy 0.9000 is near chance (0.9000); 100% of the images predicted 0."
  )


def test_the_causes_come_from_the_run_settings():
  metrics = _metrics(COLLAPSED)
  pretrained = advice.near_chance(metrics, _training(weights="/w.h5", epochs=30), 600)
  assert pretrained.endswith(
    "Likely cause: check that the labels match the images, and the learning rate"
  )
  many = advice.near_chance(metrics, _training(epochs=3), 50_000)
  assert many.endswith("Likely cause: only 3 epochs: train longer (--epochs)")
  assert advice.near_chance({}, _training(), 600) is None  # not evaluated


def test_a_warm_start_points_at_the_data_not_at_the_epochs():
  """Seen: a warm start ran 1 of 3 requested epochs on shuffled labels; 'train longer' was
  wrong advice."""
  training = {
    **_training(model="cnn", epochs=1),
    "warm_start": {"from": "/root/Trainer/model/3", "epochs": 1, "learning_rate_factor": 0.1},
  }
  text = advice.near_chance(_metrics(COLLAPSED), training, 600)
  assert "train longer" not in text
  assert text.endswith(
    "Likely cause: warm-started from a blessed model and trained 1 epoch on this data: the new "
    "data's labels likely differ from the images (check them); --warm-start never trains from "
    "scratch"
  )


def test_an_ensembles_epochs_are_counted_per_member():
  training = {**_training(model="cnn", epochs=8), "member_epochs": [4, 4]}
  assert advice.near_chance(_metrics(COLLAPSED), training, 600).endswith(
    "Likely cause: only 4 epochs: train longer (--epochs)"
  )
  training["member_epochs"] = [6, 6]
  assert advice.near_chance(_metrics(COLLAPSED), training, 600).endswith(
    "check that the labels match the images, and the learning rate"
  )


def test_the_console_shows_the_advice_on_one_line():
  summary = RunRecord(
    "p",
    "r",
    images_found=100,
    images_ingested=100,
    splits={"train": 600, "eval": 100},
    advice="eval accuracy 0.1 is near chance; 100% of the images predicted a\nb",
  )
  lines = console_text.format_summary(summary).splitlines()
  assert "  advice: eval accuracy 0.1 is near chance; 100% of the images predicted a b" in lines
  summary.advice = None
  assert not any("advice" in line for line in console_text.format_summary(summary).splitlines())
