"""Writer helpers on synthetic grouped data whose answers are known by construction."""

import matplotlib
import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import KFold

from mnist_analysis import clustered_statistics as cl
from mnist_analysis import writer_groups as wr
from mnist_analysis.plotting import plot_lorenz


def grouped_values(n_writers=60, per_writer=30, writer_sd=1.0, noise_sd=0.3, seed=0):
    """Values whose digits of one writer share a writer effect of standard deviation ``writer_sd``."""
    rng = np.random.default_rng(seed)
    writers = np.repeat(np.arange(n_writers), per_writer)
    values = rng.normal(0, writer_sd, n_writers)[writers] + rng.normal(0, noise_sd, len(writers))
    return values, writers


def width(ci):
    return ci["ci_high"] - ci["ci_low"]


# --------------------------------------------------------------------------- bootstrap
def test_clustered_interval_is_wider_than_naive_when_a_writers_digits_are_alike():
    values, writers = grouped_values()
    clustered = cl.clustered_bootstrap_ci(values, writers, n_boot=1000, seed=0)
    naive = cl.bootstrap_ci(values, n_boot=1000, seed=0)
    assert clustered["estimate"] == pytest.approx(values.mean()) == naive["estimate"]
    # design effect 1 + (30 - 1) * icc with icc ~ 0.92: the clustered interval is ~5 times wider
    assert width(clustered) > 3 * width(naive)
    assert clustered["n_groups"] == 60
    assert naive["n_groups"] == len(values)


def test_clustered_and_naive_intervals_agree_when_writers_do_not_matter():
    values, writers = grouped_values(writer_sd=0.0, noise_sd=1.0)
    ratio = width(cl.clustered_bootstrap_ci(values, writers, n_boot=2000)) / width(cl.bootstrap_ci(values, n_boot=2000))
    assert 0.75 < ratio < 1.33


def test_clustered_interval_covers_the_true_mean_across_writer_samples():
    covered = 0
    for seed in range(40):
        values, writers = grouped_values(n_writers=30, per_writer=10, seed=seed)
        ci = cl.clustered_bootstrap_ci(values, writers, n_boot=400, seed=seed)
        covered += ci["ci_low"] <= 0 <= ci["ci_high"]
    naive_covered = 0
    for seed in range(40):
        values, writers = grouped_values(n_writers=30, per_writer=10, seed=seed)
        ci = cl.bootstrap_ci(values, n_boot=400, seed=seed)
        naive_covered += ci["ci_low"] <= 0 <= ci["ci_high"]
    assert covered >= 32  # ~95 % nominal; the naive interval misses far more often
    assert naive_covered < covered


def test_fast_mean_path_equals_the_generic_resampling_path():
    values, writers = grouped_values(n_writers=12, per_writer=7)
    fast = cl.clustered_bootstrap_ci(values, writers, np.mean, n_boot=300, seed=3)
    generic = cl.clustered_bootstrap_ci(values, writers, lambda v: float(np.mean(v)), n_boot=300, seed=3)
    assert fast == pytest.approx(generic)


def test_bootstrap_is_reproducible_and_seed_dependent():
    values, writers = grouped_values(n_writers=10, per_writer=5)
    first = cl.clustered_bootstrap_ci(values, writers, n_boot=200, seed=1)
    assert first == cl.clustered_bootstrap_ci(values, writers, n_boot=200, seed=1)
    assert first != cl.clustered_bootstrap_ci(values, writers, n_boot=200, seed=2)


def test_generic_statistic_receives_two_column_rows():
    values, writers = grouped_values(n_writers=10, per_writer=5)
    pairs = np.column_stack([values, 2 * values])
    ci = cl.clustered_bootstrap_ci(pairs, writers, lambda v: float(np.mean(v[:, 1] - v[:, 0])), n_boot=100)
    assert ci["estimate"] == pytest.approx(values.mean())


def test_group_difference_recovers_a_known_shift():
    values, writers = grouped_values(n_writers=80, per_writer=20, writer_sd=0.5)
    group = np.where(writers % 2 == 0, "census", "student")
    values = values + 2.0 * (group == "student")
    result = cl.group_difference_ci(values, writers, group, n_boot=500)
    expected = values[group == "student"].mean() - values[group == "census"].mean()
    assert result["estimate"] == pytest.approx(expected)
    assert result["ci_low"] < 2.0 < result["ci_high"]
    assert result["ci_low"] > 1.0


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"groups": np.arange(3)}, "groups: expected 8 values"),
        ({"n_boot": 0}, "n_boot"),
        ({"confidence": 1.5}, "confidence"),
        ({"statistic": "mean"}, "statistic"),
    ],
)
def test_bootstrap_rejects_bad_arguments(bad, message):
    arguments = {"values": np.arange(8.0), "groups": np.repeat([0, 1], 4), **bad}
    with pytest.raises((ValueError, TypeError), match=message):
        cl.clustered_bootstrap_ci(**arguments)


# --------------------------------------------------------------------------- cross-validation
def test_writer_folds_never_split_a_writer_and_cover_every_row_once():
    rng = np.random.default_rng(0)
    writers = rng.integers(0, 70, 1000)
    labels = rng.integers(0, 10, 1000)
    folds = wr.writer_folds(labels, writers, n_splits=5, seed=0)
    assert len(folds) == 5
    for train, test in folds:
        assert not set(writers[train]) & set(writers[test])
        assert len(train) + len(test) == 1000
    assert sorted(np.concatenate([test for _, test in folds]).tolist()) == list(range(1000))
    assert len(wr.writers_split_across_folds(folds, writers)) == 0


def test_ordinary_kfold_splits_writers_and_is_caught():
    writers = np.repeat(np.arange(20), 10)
    folds = list(KFold(5, shuffle=True, random_state=0).split(writers))
    assert len(wr.writers_split_across_folds(folds, writers)) > 10


def test_writer_folds_refuse_more_folds_than_writers():
    with pytest.raises(ValueError, match="n_splits"):
        wr.writer_folds([0, 1, 0, 1], [0, 0, 1, 1], n_splits=3)


def test_group_separability_sees_a_group_signal_but_not_individual_hands():
    rng = np.random.default_rng(0)
    writers = np.repeat(np.arange(40), 8)
    group = np.where(rng.random(40) < 0.5, "census", "student")[writers]
    hands = rng.integers(0, 256, size=(40, 28, 28))  # each writer's own, group-independent style
    images = np.clip(hands[writers] + rng.integers(-20, 20, size=(320, 28, 28)), 0, 255)
    chance = wr.group_separability(images, group, writers, model="knn_pixels", cache=False)
    assert 0.3 < chance["auc"] < 0.7
    assert chance["probabilities"].shape == (320,)
    images[group == "student", :4] = 255
    assert wr.group_separability(images, group, writers, model="knn_pixels", cache=False)["auc"] > 0.95


# --------------------------------------------------------------------------- variance
def test_variance_components_recover_known_between_and_within_variances():
    values, writers = grouped_values(n_writers=400, per_writer=25, writer_sd=1.0, noise_sd=1.0, seed=1)
    result = cl.variance_components(values, writers)
    assert result["between"] == pytest.approx(1.0, rel=0.2)
    assert result["within"] == pytest.approx(1.0, rel=0.05)
    assert result["icc"] == pytest.approx(0.5, abs=0.07)
    assert result["design_effect"] == pytest.approx(1 + 24 * result["icc"])
    assert result["effective_n"] == pytest.approx(10_000 / result["design_effect"])


def test_variance_components_adjust_for_class_effects():
    rng = np.random.default_rng(2)
    writers = np.repeat(np.arange(100), 20)
    labels = np.tile(np.arange(10), 200)
    values = 5.0 * labels + rng.normal(0, 1, len(writers))  # pure class effect, no writer effect
    assert cl.variance_components(values, writers, adjust_for=labels)["icc"] < 0.05
    assert cl.variance_components(values, writers)["within"] > 10  # the class spread counted as within-writer


def test_variance_table_and_compare_groups_on_measurement_frames():
    values, writers = grouped_values(n_writers=60, per_writer=15)
    group = np.where(writers < 30, "census", "student")
    noise = np.random.default_rng(0).normal(size=900)
    frame = pd.DataFrame({"ink": values + 1.0 * (group == "student"), "noise": noise})
    table = cl.variance_table(frame, writers, ["ink", "noise"])
    assert table.loc["ink", "se_inflation"] > 3
    assert table.loc["noise", "se_inflation"] < 1.5
    comparison = cl.compare_groups(frame, writers, group, ["ink", "noise"], n_boot=500)
    ink = comparison.loc["ink"]
    assert ink["student_mean"] - ink["census_mean"] == pytest.approx(ink["difference"])
    assert ink["cohens_d"] > 0.5
    assert ink["ci_high"] - ink["ci_low"] > 3 * (ink["naive_ci_high"] - ink["naive_ci_low"])
    with pytest.raises(ValueError, match="columns"):
        cl.compare_groups(frame, writers, group, ["slant"])


# --------------------------------------------------------------------------- composition
@pytest.fixture
def toy_frame():
    return pd.DataFrame(
        {
            "split": pd.Categorical(["train"] * 6 + ["test"] * 4, categories=["train", "test"]),
            "index": [0, 1, 2, 3, 4, 5, 0, 1, 2, 3],
            "label": [0, 1, 2, 0, 1, 2, 0, 1, 0, 1],
            "writer_id": [1, 1, 1, 2, 2, 3, 4, 4, 5, 3],
            "writer_group": pd.Categorical(
                ["census"] * 5 + ["student"] * 3 + ["census", "student"], categories=["census", "student"]
            ),
        }
    )


def test_group_summary_counts_digits_and_writers(toy_frame):
    summary = wr.group_summary(toy_frame)
    assert summary.loc[("train", "census"), "digits"] == 5
    assert summary.loc[("train", "census"), "writers"] == 2
    assert summary.loc[("test", "student"), "writers"] == 2
    assert summary.groupby(level="split")["share_of_split"].sum().tolist() == pytest.approx([1.0, 1.0])


def test_shared_writers_and_writer_summary(toy_frame):
    assert wr.shared_writers(toy_frame).tolist() == [3]
    summary = wr.writer_summary(toy_frame)
    assert summary.loc[3, ["train", "test", "digits"]].tolist() == [1, 1, 2]
    assert summary.loc[1, "classes"] == 3


def test_block_composition_places_rows_by_their_position(toy_frame):
    blocks = wr.block_composition(toy_frame, split="test", block_size=2)
    assert blocks.index.tolist() == ["0-1", "2-3"]
    assert blocks["student"].tolist() == [2, 1]
    assert blocks["census"].tolist() == [0, 1]
    assert blocks["student_share"].tolist() == [1.0, 0.5]


def test_group_mean_images_by_class():
    images = np.stack([np.full((2, 2), v, float) for v in (0, 2, 4, 6)])
    means = wr.group_mean_images(images, [0, 0, 1, 1], ["a", "b", "a", "a"])
    assert means["a"][:, 0, 0].tolist() == [0.0, 5.0]
    assert means["b"][0, 0, 0] == 2.0
    assert np.isnan(means["b"][1]).all()


# --------------------------------------------------------------------------- errors
def test_lorenz_curve_and_gini_of_known_distributions():
    curve = wr.lorenz_curve([3, 1, 0, 0])
    assert curve["amount_share"].tolist() == [0, 0, 0, 0.25, 1.0]
    assert wr.gini([5, 5, 5]) == 0.0
    assert wr.gini([0, 0, 0, 0, 10]) == pytest.approx(0.8)
    # weights: errors proportional to digits written are spread evenly
    assert wr.gini([1, 2, 4], weights=[10, 20, 40]) == pytest.approx(0.0)


def test_error_concentration_separates_concentrated_from_random_errors():
    rng = np.random.default_rng(0)
    writers = np.repeat(np.arange(100), 50)
    random_errors = rng.random(5000) < 0.05
    spread = wr.error_concentration(random_errors, writers, n_sim=100)
    assert spread["gini"] < spread["null_gini_high"]
    concentrated = np.isin(writers, [3, 7, 11]) & (rng.random(5000) < 0.8)
    result = wr.error_concentration(concentrated, writers, n_sim=100)
    assert result["gini"] > result["null_gini_high"]
    assert result["top_error_share"] == 1.0
    with pytest.raises(ValueError, match="errors"):
        wr.error_concentration(np.zeros(5000, bool), writers)


def test_writer_error_table_and_lorenz_plot():
    table = wr.writer_error_table([True, False, True, True], [1, 1, 2, 2], group=["a", "a", "b", "b"])
    assert table.index.tolist() == [2, 1]
    assert table["errors"].tolist() == [2, 1]
    assert table.loc[2, "writer_group"] == "b"
    matplotlib.use("Agg")
    ax = plot_lorenz({"m": wr.lorenz_curve(table["errors"], table["digits"])})
    assert ax.get_title()
    assert ax.get_ylabel() == "share of errors"


# --------------------------------------------------------------------------- domain shift
def test_domain_shift_shows_the_cost_of_training_on_the_other_group():
    rng = np.random.default_rng(0)
    n = 400
    labels = np.tile([0, 1], n // 2)
    group = np.repeat(["census", "student"], n // 2)
    images = rng.integers(0, 40, size=(n, 28, 28))
    # census writes class 1 as a band at the top, students as a band at the bottom
    images[(labels == 1) & (group == "census"), :8] = 255
    images[(labels == 1) & (group == "student"), 20:] = 255
    writers = np.arange(n) // 5
    is_train = rng.random(n) < 0.7
    table = wr.domain_shift(images, labels, group, is_train, writers, model="knn_pixels", n_boot=100, cache=False)
    assert set(table["train_size"]) == {min(np.sum(is_train & (group == g)) for g in ("census", "student"))}
    assert table.loc[("census", "census"), "error_rate"] == 0.0
    assert table.loc[("census", "student"), "error_rate"] > 0.3
    assert table.loc[("student", "census"), "error_rate"] > 0.3
    assert table.loc[("mixed", "all"), "error_rate"] < 0.05
    with pytest.raises(ValueError, match="train_size"):
        wr.domain_shift(images, labels, group, is_train, writers, train_size=10_000, cache=False)


def test_error_rates_by_group_per_model_with_clustered_intervals():
    rng = np.random.default_rng(0)
    writers = np.repeat(np.arange(100), 20)
    group = np.where(writers < 50, "census", "student")
    y = rng.integers(0, 10, len(writers))
    wrong = rng.random(len(y)) < np.where(group == "census", 0.02, 0.10)
    predictions = {"good": y.copy(), "noisy": np.where(wrong, (y + 1) % 10, y)}
    table = wr.error_rates_by_group(y, predictions, writers, group, n_boot=500)
    assert table.index.tolist() == ["good", "noisy"]
    noisy = table.loc["noisy"]
    assert noisy["census_error"] == pytest.approx(wrong[group == "census"].mean())
    assert noisy["census_low"] < noisy["census_error"] < noisy["census_high"]
    assert noisy["difference_low"] > 0
    assert noisy["ratio"] > 2
    assert table.loc["good", "difference"] == 0
    assert np.isnan(table.loc["good", "ratio"])
