"""run_fn through the real Trainer executor on digits: training, its console and its exports."""

import json
import math
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from schemas.features import IMAGE_XF
from tests import images, training
from tests.training import BASE_CONFIG, assert_serves_digits, training_log
from trainer_module import contract, ensemble, reference_preprocess, train, warm_start


def _train(transformed, tmp_path, **config):
  return training.run_trainer(*transformed, str(tmp_path), {**BASE_CONFIG, **config})


# B1-B3 differ from B0 in the backbone only; model_test builds, trains, saves and reloads them.
# MobileNet trains through the whole pipeline in tests/mobilenet_e2e_test.py.
@pytest.mark.integration  # training
@pytest.mark.parametrize("model,variant", [("cnn", None), ("efficientnet", "b0")])
def test_each_model_trains_exports_reloads_and_serves_raw_bytes(
  digits_transformed, tmp_path, capsys, model, variant
):
  weights = "none" if model != "cnn" else None  # from scratch: nothing can be downloaded here
  trained, model_run = _train(
    digits_transformed, tmp_path, model=model, model_variant=variant, weights=weights
  )
  # An ImageNet family from scratch on these few hundred images is told to use weights.
  warnings = [line for line in capsys.readouterr().out.splitlines() if "--weights none" in line]
  assert len(warnings) == (model != "cnn")
  assert all(
    line.startswith(f"[Trainer] warning: {model} {variant} from scratch") for line in warnings
  )
  assert_serves_digits(trained)
  (epoch,) = training_log(model_run)
  assert epoch["phase"] == "train" and epoch["images_per_second"] > 0
  assert np.isfinite(epoch["loss"]) and "val_sparse_categorical_accuracy" in epoch
  assert tf.io.gfile.glob(os.path.join(model_run.uri, "train", "*", "events.out.tfevents.*"))


@pytest.mark.integration  # training
def test_cnn_learns_digits_and_serving_is_deterministic(digits_transformed, tmp_path, capsys):
  trained, model_run = _train(digits_transformed, tmp_path, epochs=8, augment=["rotation", "zoom"])
  epochs = training_log(model_run)
  # The console: the Trainer's own lines only (cache, start, one an epoch, maybe the weights
  # kept), none of Keras' (its callbacks' "Restoring model weights ..." included).
  out = capsys.readouterr().out.splitlines()
  assert all(line.startswith("[Trainer] ") for line in out), out
  assert len([line for line in out if line.startswith("[Trainer] epoch ")]) == len(epochs)
  assert len(out) <= len(epochs) + 3
  # The default schedule: cosine decay from the configured rate towards 0 over the 8 epochs.
  np.testing.assert_allclose(
    [e["learning_rate"] for e in epochs],
    [1e-3 * 0.5 * (1 + math.cos(math.pi * (e["epoch"] - 1) / 8)) for e in epochs],
    rtol=1e-5,
  )
  # Early stopping restores the best epoch's weights: that one is the model exported.
  assert max(e["val_sparse_categorical_accuracy"] for e in epochs) > 0.8
  loaded, first = assert_serves_digits(trained)
  digits = images.digit_pixels(60)[20:]
  batch = tf.constant([images.encode(p, "png") for p, _ in digits])
  out = loaded.signatures["serving_default"](image_bytes=batch)
  again = loaded.signatures["serving_default"](image_bytes=batch)
  # Augmentation is training-only: the exported model gives the same answer every time.
  np.testing.assert_array_equal(out["probabilities"].numpy(), again["probabilities"].numpy())
  predicted = [int(c) for c in out["classes"].numpy()]
  assert np.mean(np.array(predicted) == [d for _, d in digits]) > 0.7
  del first


@pytest.mark.integration  # training
def test_pretrained_weights_train_in_two_phases(digits_transformed, tmp_path):
  source = keras.applications.EfficientNetB0(
    include_top=False, weights=None, input_shape=(32, 32, 3), pooling="avg"
  )
  weights = str(tmp_path / "efficientnetb0_notop.weights.h5")
  source.save_weights(weights)
  trained, model_run = _train(
    digits_transformed,
    tmp_path,
    model="efficientnet",
    weights=weights,
    fine_tune_epochs=1,
    fine_tune_layers=10,
  )
  phases = [(e["phase"], e["epoch"]) for e in training_log(model_run)]
  assert phases == [("train", 1), ("fine_tune", 2)]
  assert_serves_digits(trained)


@pytest.mark.integration  # training
def test_a_disk_cache_lives_under_the_run_and_is_removed_after_training(
  digits_transformed, tmp_path, capsys
):
  _, model_run = _train(digits_transformed, tmp_path, cache="disk")
  assert f"[Trainer] cache: on disk under {os.path.join(model_run.uri, 'cache')}" in (
    capsys.readouterr().out
  )
  assert not os.path.exists(os.path.join(model_run.uri, "cache"))
  assert training_log(model_run)[0]["val_sparse_categorical_accuracy"] > 0.0


def test_the_warm_start_line_says_where_training_starts():
  warm = warm_start.Decision("/serving/1700000000", "", 3, warm_start.RATE_FACTOR)
  assert train.warm_start_line(warm) == (
    "[Trainer] warm start from the last blessed model (/serving/1700000000): "
    "3 epochs at 0.1x the learning rate"
  )
  scratch = warm_start.Decision(None, "no blessed model to start from", 10)
  assert train.warm_start_line(scratch) == (
    "[Trainer] training from scratch: no blessed model to start from"
  )


@pytest.mark.integration  # training
def test_an_ensemble_of_two_architectures_trains_each_member_and_serves_their_mean(
  digits_transformed, tmp_path, capsys
):
  # MobileNetV2 stands for the ImageNet families here (EfficientNet-B0 is the slowest on CPU).
  trained, model_run = _train(digits_transformed, tmp_path, ensemble_models=["cnn", "mobilenet"])
  loaded, out = assert_serves_digits(trained)
  assert [e["phase"] for e in training_log(model_run)] == ["member_1_train", "member_2_train"]
  lines = capsys.readouterr().out.splitlines()
  assert "[Trainer] ensemble member 2/2: mobilenet, seed 1" in lines
  served = training.serving_model_dir(trained)
  members = ensemble.member_models(contract.load_keras_model(served))
  assert [m.name for m in members] == ["member_1", "member_2"]
  assert isinstance(members[1].get_layer("backbone"), keras.Model)  # the MobileNet member
  assert contract.read_contract(served)["normalization"]["method"].startswith("each ensemble")
  spec = contract.read_contract(served)
  encoded = [images.encode(p, "png") for p, _ in images.digit_pixels(8)]  # what out answered
  pixels = np.stack([reference_preprocess.preprocess(e, spec) for e in encoded]).astype("float32")
  mean = np.mean([np.asarray(m({IMAGE_XF: pixels})) for m in members], axis=0)
  np.testing.assert_allclose(out["probabilities"].numpy(), mean, atol=1e-5)


@pytest.mark.integration  # training
def test_the_modern_recipe_trains_on_one_hot_labels_and_records_its_settings(
  digits_transformed, tmp_path
):
  trained, model_run = _train(
    digits_transformed,
    tmp_path,
    epochs=2,
    augment=["randaugment", "erasing", "mixup", "cutmix"],
    label_smoothing=0.1,
    ema=True,
    recipe="strong",
  )
  epochs = training_log(model_run)
  assert [e["epoch"] for e in epochs] == [1, 2]
  # Categorical cross-entropy on one-hot labels; the accuracy keeps the name the log reads.
  assert all(
    np.isfinite(e["loss"]) and 0 <= e["val_sparse_categorical_accuracy"] <= 1 for e in epochs
  )
  with open(os.path.join(model_run.uri, "training_settings.json")) as f:
    settings = json.load(f)
  assert (
    settings["augment"],
    settings["label_smoothing"],
    settings["ema"],
    settings["recipe"],
  ) == (
    ["randaugment", "erasing", "mixup", "cutmix"],
    0.1,
    True,
    "strong",
  )
  assert_serves_digits(trained)
