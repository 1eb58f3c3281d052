"""Robustness curves: errors, group gaps and growing confusions on hand-made predictions and a real fit."""

import numpy as np
import pandas as pd
import pytest

import mnist_analysis as mx
from mnist_analysis import robustness as rb
from mnist_analysis.perturbations import perturbation_grid


@pytest.fixture
def setting():
    conditions = pd.DataFrame(
        {
            "kind": ["original", "thin", "thin"],
            "strength": [np.nan, 1.0, 2.0],
            "label": ["original", "thin 1", "thin 2"],
        }
    )
    y = np.tile([7, 1], 50)
    writers = np.arange(100) // 5
    group = np.where(writers < 10, "census", "student")
    rng = np.random.default_rng(0)
    predicted = np.stack([y.copy(), y.copy(), y.copy()])
    predicted[1, :20] = 1  # thin 1: the first 20 digits (census writers) read as 1
    predicted[2, 50:90] = 1  # thin 2: 40 student digits read as 1
    other = np.where(rng.random((3, 100)) < 0.1, 3, predicted)
    return conditions, y, writers, group, {"m": predicted, "noisy": other}


def test_curves_count_the_errors_by_condition_and_group(setting):
    conditions, y, writers, group, predictions = setting
    curves = rb.robustness_curves(y, conditions, predictions, writers, group, n_boot=200)
    m = curves[curves["model"] == "m"].set_index(["label", "group"])
    assert m.loc[("original", "all"), "error"] == 0
    assert m.loc[("thin 1", "all"), "error"] == pytest.approx(10 / 100)  # 10 of the first 20 are sevens
    assert m.loc[("thin 1", "census"), "error"] == pytest.approx(10 / 50)
    assert m.loc[("thin 1", "student"), "error"] == 0
    assert m.loc[("thin 2", "student"), "error"] == pytest.approx(20 / 50)
    assert (curves["ci_low"] <= curves["error"]).all()
    assert (curves["error"] <= curves["ci_high"]).all()
    assert m.loc[("thin 2", "student"), "n_writers"] == 10
    assert len(curves) == 2 * 3 * 3


def test_group_gaps_and_growing_confusions(setting):
    conditions, y, writers, group, predictions = setting
    gaps = rb.group_gaps(y, conditions, predictions, writers, group, n_boot=200).set_index(["model", "label"])
    assert gaps.loc[("m", "thin 1"), "difference"] == pytest.approx(-0.2)
    assert gaps.loc[("m", "thin 2"), "difference"] == pytest.approx(0.4)
    assert gaps.loc[("m", "thin 2"), "ci_low"] > 0
    grown = rb.growing_confusions(y, conditions, predictions["m"])
    assert grown["true"].dtype.kind == "i"
    assert grown["growth"].dtype.kind == "i"
    assert grown[["label", "true", "predicted", "growth"]].to_numpy().tolist() == [
        ["thin 1", 7, 1, 10],
        ["thin 2", 7, 1, 20],
    ]


def test_bad_inputs_are_named(setting):
    conditions, y, writers, _group, predictions = setting
    with pytest.raises(ValueError, match=r"predictions\['m'\]: expected shape \(3, 100\)"):
        rb.robustness_curves(y, conditions, {"m": predictions["m"][:2]}, writers)
    with pytest.raises(ValueError, match="conditions"):
        rb.robustness_curves(y, conditions.drop(columns="kind"), predictions, writers)
    with pytest.raises(ValueError, match="reference"):
        rb.growing_confusions(y, conditions, predictions["m"], reference="none")
    with pytest.raises(ValueError, match="stacks"):
        rb.perturbed_predictions(np.zeros((4, 28, 28)), np.zeros(4), np.zeros((4, 28, 28)))
    with pytest.raises(ValueError, match=r"n_jobs: expected .*found 0"):
        rb.perturbed_predictions(np.zeros((4, 28, 28)), np.zeros(4), np.zeros((1, 4, 28, 28)), n_jobs=0)


def test_models_side_by_side_give_what_one_at_a_time_gives():
    from threadpoolctl import threadpool_info

    rng = np.random.default_rng(0)
    images, labels = rng.integers(0, 256, size=(240, 28, 28)), np.repeat([0, 1, 2], 80)
    for label in range(3):
        images[labels == label, 9 * label : 9 * label + 9] = 255
    stacks = np.stack([images[1::2], 255 - images[1::2]])
    names = ["logistic_regression", "knn_pixels", "knn_deskewed", "qda_pca"]  # as in the zoo
    blas_threads = [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]
    side_by_side = rb.perturbed_predictions(images[::2], labels[::2], stacks, names=names, n_jobs=3, cache=False)
    one_at_a_time = rb.perturbed_predictions(images[::2], labels[::2], stacks, names=names, n_jobs=1, cache=False)
    assert list(side_by_side) == names  # whatever order they finished in
    for name in names:
        np.testing.assert_array_equal(side_by_side[name], one_at_a_time[name])
    assert (side_by_side["knn_pixels"][0] == labels[1::2]).all()
    # the BLAS limit set around the threads is lifted afterwards
    assert [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"] == blas_threads


def test_real_digits_get_worse_when_thinned_hard(real_data):
    frame, images = mx.load_sample(1200, seed=0)
    train = (frame["split"] == "train").to_numpy()
    test_images = images[~train]
    conditions, stacks = perturbation_grid(test_images, {"thin": [0], "thicken": [3], "scale": [0.5]}, seed=0)
    predictions = rb.perturbed_predictions(images[train], frame["label"][train], stacks, names=["knn_pca"])
    y = frame["label"][~train].to_numpy()
    curves = rb.robustness_curves(y, conditions, predictions, frame["writer_id"][~train], n_boot=200)
    error = curves.set_index("label")["error"]
    assert error["thicken 3"] > error["thin 0"] + 0.05
    assert error["scale 0.5"] > error["original"] + 0.2
