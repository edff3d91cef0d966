"""Advice on a model that learned little: when the gated accuracy is near chance, the likely
cause read from the run's own settings (an ImageNet family from scratch, too few epochs)."""

from typing import Any, Dict, Optional

from trainer_module import advice

NEAR_CHANCE = 0.25  # accuracy less than this share of the way from chance to 1: near chance
ONE_CLASS = 0.9  # one class given to this share of the images or more: collapsed
FEW_EPOCHS = 5  # fewer epochs than this: "train longer"


def chance(per_class: Dict[str, Dict[str, Any]]) -> float:
  """The accuracy of guessing: 1/classes, or the largest class's share when that is more."""
  images = sum(c["images"] for c in per_class.values())
  return max(1 / len(per_class), max(c["images"] for c in per_class.values()) / images)


def _epochs_per_model(training: Dict[str, Any], settings: Dict[str, Any]) -> Optional[int]:
  """The epochs one model trained in this run: an ensemble's member's, the training phase's
  (not the fine-tuning's), as run (early stopping may end sooner than planned)."""
  members = training.get("member_epochs")
  if members:
    return min(members)
  epochs = training.get("epochs")
  fine_tune = settings.get("fine_tune_epochs") or 0
  return None if epochs is None else max(epochs - fine_tune, 1) if fine_tune else epochs


def near_chance(
  metrics: Dict[str, Any], training: Dict[str, Any], train_images: int
) -> Optional[str]:
  """One line naming the likely cause when the accuracy is near chance, or None."""
  per_class, accuracy = metrics.get("per_class") or {}, metrics.get("accuracy")
  if accuracy is None or not per_class or not sum(c["images"] for c in per_class.values()):
    return None
  guess = chance(per_class)
  if accuracy >= guess + NEAR_CHANCE * (1 - guess):
    return None
  images = sum(c["images"] for c in per_class.values())
  top, top_class = max((c.get("predicted") or 0, name) for name, c in per_class.items())
  text = f"{metrics.get('split', 'eval')} accuracy {accuracy:.4f} is near chance ({guess:.4f})" + (
    f"; {top / images:.0%} of the images predicted {top_class}" if top >= ONE_CLASS * images else ""
  )
  settings = training.get("settings") or {}
  causes = []
  if advice.from_scratch(settings.get("model", ""), settings.get("weights"), train_images):
    causes.append(
      advice.from_scratch_text(settings["model"], settings.get("model_variant"), train_images)
    )
  warm = training.get("warm_start") or {}
  if warm.get("from"):  # a blessed model, trained a little more on this run's data
    causes.append(
      f"warm-started from a blessed model and trained {warm.get('epochs')} epoch"
      f"{'s' if warm.get('epochs') != 1 else ''} on this data: the new data's labels likely "
      "differ from the images (check them); --warm-start never trains from scratch"
    )
    return f"{text}. Likely cause: {'; '.join(causes)}"
  epochs = _epochs_per_model(training, settings)
  if epochs is not None and epochs < FEW_EPOCHS:
    causes.append(f"only {epochs} epoch{'s' if epochs != 1 else ''}: train longer (--epochs)")
  if not causes:
    causes.append("check that the labels match the images, and the learning rate")
  return f"{text}. Likely cause: {'; '.join(causes)}"
