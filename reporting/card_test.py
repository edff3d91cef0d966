"""The model card's and the console's training settings: the recipe, label smoothing and EMA
a run trained with, as training_settings.json recorded them."""

from reporting import card, console_text
from schemas.outcomes import Status
from schemas.run_record import RunRecord

SETTINGS = {
  "model": "cnn",
  "model_variant": None,
  "weights": None,
  "input_shape": [28, 28, 1],
  "resize": "squash",
  "learning_rate": 0.001,
  "lr_schedule": "cosine",
  "epochs": 15,
  "batch_size": 64,
  "dropout": 0.3,
  "width": 48,
  "augment": ["flip", "erasing"],
  "label_smoothing": 0.1,
  "ema": True,
  "recipe": "strong",
  "class_weights": "auto",
  "class_weights_applied": None,
}


def _card(settings):
  record = RunRecord(
    pipeline_name="p",
    run_id="r",
    status=Status.NOT_BLESSED,
    training={"epochs": 15, "train_seconds": 60.0, "images_per_second": 900, "settings": settings},
    thresholds={"accuracy": 0.8, "min_class_recall": 0.5, "min_class_precision": 0.5},
  )
  return card.model_card(record).splitlines()


def test_the_card_shows_the_recipe_label_smoothing_and_ema():
  lines = _card(SETTINGS)
  for line in (
    "- Model: cnn, width 48, dropout 0.3",
    "- Augmentation: flip, erasing",
    "- Label smoothing: 0.1",
    "- Weight averaging (EMA): yes, the exported weights are the average",
    "- Recipe: strong",
  ):
    assert line in lines
  # A run without them (or recorded before they existed) says so plainly.
  older = {k: v for k, v in SETTINGS.items() if k not in ("label_smoothing", "ema", "recipe")}
  lines = _card({**older, "augment": []})
  assert "- Label smoothing: 0" in lines and "- Weight averaging (EMA): no" in lines
  assert not any(line.startswith("- Recipe") for line in lines)


def test_the_console_line_names_the_recipe_first():
  assert console_text.settings_line(SETTINGS) == (
    "recipe strong: cnn, width 48, on 28x28x1 (squash); learning rate 0.001, cosine; 15 epochs "
    "of batch 64; dropout 0.3; augment flip, erasing; label smoothing 0.1; EMA of the weights; "
    "class weights auto (not applied)"
  )
  plain = {**SETTINGS, "augment": [], "label_smoothing": 0.0, "ema": False, "recipe": None}
  assert console_text.settings_line(plain).endswith(
    "dropout 0.3; no augmentation; class weights auto (not applied)"
  )


ONNX = {
  "passed": True,
  "reason": None,
  "path": "/serving/17/onnx",
  "split": "test",
  "images": 354,
  "saved_model": {"accuracy": 0.9915},
  "opset": 17,
  "file": "model.onnx",
  "bytes": 97_280,
  "agreement": 1.0,
  "accuracy": 0.9915,
}


def test_the_card_and_console_give_each_exports_figures_or_why_not():
  record = RunRecord(
    pipeline_name="p",
    run_id="r",
    status=Status.PUSHED,
    thresholds={"accuracy": 0.8, "min_class_recall": 0.5, "min_class_precision": 0.5},
    onnx=ONNX,
    tflite={
      "passed": False,
      "reason": "int8: top-1 agrees with the SavedModel on 96.3%",
      "path": None,
    },
  )
  lines = card.model_card(record).splitlines()
  exports = lines[lines.index("## Exports") + 2 :]
  assert exports[:2] == [
    "- TFLite: not pushed: int8: top-1 agrees with the SavedModel on 96.3%",
    "- ONNX: 95 KiB, opset 17; top-1 agrees with the SavedModel on 100.0% of 354 test images "
    "(accuracy 0.9915 vs 0.9915); in /serving/17/onnx",
  ]
  summary = console_text.format_summary(record)
  assert "  onnx: 95 KiB, opset 17; top-1 agrees" in summary
  assert "  tflite: not pushed: int8" in summary
