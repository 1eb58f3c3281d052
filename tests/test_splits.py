"""Validation splits: writer-disjoint, class-stratified, seeded, and refusing bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mnist_analysis.splits import compare_validation_splits, recommend_split, split_balance, validation_split


def synthetic_frame(n_writers=120, seed=0):
    """Writers of 20-60 digits each with their own class mix, half census and half student."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(20, 61, n_writers)
    writer = np.repeat(np.arange(1000, 1000 + n_writers), sizes)
    label = np.concatenate([rng.choice(10, size, p=rng.dirichlet(np.full(10, 5.0))) for size in sizes])
    group = np.where(writer % 2 == 0, "census", "student")
    frame = pd.DataFrame({"split": "train", "label": label, "writer_id": writer, "writer_group": group})
    return frame.set_index(pd.RangeIndex(500, 500 + len(frame)))


@pytest.mark.parametrize("by_writer", [True, False])
def test_split_covers_every_row_once_with_index_labels(by_writer):
    frame = synthetic_frame()
    train, validation = validation_split(frame, seed=3, by_writer=by_writer)
    assert np.intersect1d(train, validation).size == 0
    assert np.array_equal(np.sort(np.concatenate([train, validation])), frame.index.to_numpy())
    assert np.all(np.diff(train) > 0)
    assert np.all(np.diff(validation) > 0)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_writer_disjoint_split_keeps_every_writer_on_one_side(seed):
    frame = synthetic_frame(seed=seed)
    train, validation = validation_split(frame, validation_fraction=0.25, seed=seed)
    shared = set(frame.loc[train, "writer_id"]) & set(frame.loc[validation, "writer_id"])
    assert shared == set()
    # the random split, by contrast, does share writers: the thing the writer-disjoint split prevents
    train, validation = validation_split(frame, validation_fraction=0.25, seed=seed, by_writer=False)
    assert set(frame.loc[train, "writer_id"]) & set(frame.loc[validation, "writer_id"])


@pytest.mark.parametrize("fraction", [0.1, 0.2, 0.35])
def test_class_proportions_are_close_to_the_fraction(fraction):
    frame = synthetic_frame(n_writers=300)
    train, validation = validation_split(frame, validation_fraction=fraction, seed=0)
    balance = split_balance(frame, train, validation)
    assert len(validation) / len(frame) == pytest.approx(fraction, abs=0.01)
    assert np.abs(balance["validation_share"] - fraction).max() < 0.02


def test_balance_beats_a_random_choice_of_writers():
    """The greedy balance is doing work: a random set of writers misses the class targets by more."""
    frame = synthetic_frame(n_writers=300)
    train, validation = validation_split(frame, validation_fraction=0.2, seed=0)
    balanced = np.abs(split_balance(frame, train, validation)["validation_share"] - 0.2).max()
    writers = frame["writer_id"].unique()
    random_misses = []
    for seed in range(20):
        chosen = np.random.default_rng(seed).choice(writers, round(0.2 * len(writers)), replace=False)
        is_validation = frame["writer_id"].isin(chosen)
        share = split_balance(frame, frame.index[~is_validation], frame.index[is_validation])["validation_share"]
        random_misses.append(np.abs(share - 0.2).max())
    assert balanced < min(random_misses)


def test_stratifying_by_group_balances_the_writer_groups_too():
    frame = synthetic_frame(n_writers=300)
    frame.loc[frame["writer_group"] == "census", "label"] = frame.loc[frame["writer_group"] == "census", "label"] % 5
    _train, validation = validation_split(frame, validation_fraction=0.2, seed=0, stratify_by_group=True)
    by_stratum = frame.groupby(["writer_group", "label"]).size()
    in_validation = (
        frame.loc[validation].groupby(["writer_group", "label"]).size().reindex(by_stratum.index, fill_value=0)
    )
    assert np.abs(in_validation / by_stratum - 0.2).max() < 0.03
    census_share = (frame.loc[validation, "writer_group"] == "census").mean()
    assert census_share == pytest.approx((frame["writer_group"] == "census").mean(), abs=0.01)


def test_same_seed_same_split_other_seed_other_split():
    frame = synthetic_frame()
    first = validation_split(frame, seed=5)
    again = validation_split(frame, seed=5)
    other = validation_split(frame, seed=6)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not np.array_equal(first[1], other[1])


@pytest.mark.parametrize(
    ("change", "options", "error", "message"),
    [
        (lambda f: f.to_numpy(), {}, TypeError, "frame: expected a DataFrame"),
        (lambda f: f.drop(columns="writer_id"), {}, ValueError, r"missing \['writer_id'\]"),
        (
            lambda f: f.assign(split=np.where(np.arange(len(f)) < 3, "test", "train")),
            {},
            ValueError,
            "found 3 rows of split",
        ),
        (lambda f: f, {"validation_fraction": 1.0}, ValueError, "validation_fraction: expected a fraction strictly"),
        (lambda f: f, {"validation_fraction": 0}, ValueError, "validation_fraction"),
        (lambda f: f, {"validation_fraction": "0.2"}, TypeError, "validation_fraction: expected a number"),
        (lambda f: f, {"seed": 1.5}, TypeError, "seed: expected an integer"),
        (lambda f: f.assign(writer_id=7), {}, ValueError, "at least 2 writers, found 1"),
        (lambda f: f.drop(columns="writer_group"), {"stratify_by_group": True}, ValueError, "writer_group"),
        (
            lambda f: f.assign(writer_group=np.where(np.arange(len(f)) % 2, "census", "student")),
            {"stratify_by_group": True},
            ValueError,
            "more than one writer_group",
        ),
        (lambda f: pd.concat([f, f]), {}, ValueError, "unique index"),
    ],
)
def test_bad_input_is_refused_with_a_clear_error(change, options, error, message):
    with pytest.raises(error, match=message):
        validation_split(change(synthetic_frame()), **options)


def test_a_split_that_leaves_a_side_empty_is_refused():
    frame = pd.DataFrame({"label": [0, 1, 0, 1], "writer_id": [1, 1, 2, 2]})
    with pytest.raises(ValueError, match="leaves the validation part empty"):
        validation_split(frame, validation_fraction=0.1)


def test_compare_validation_splits_shows_the_optimism_of_a_random_split():
    """Each writer draws a class with a personal offset: a random split sees the writer, the test set does not."""
    rng = np.random.default_rng(0)
    n_writers, per_writer = 80, 30
    writer = np.repeat(np.arange(n_writers), per_writer)
    label = np.tile(np.arange(2), n_writers * per_writer // 2)
    style = rng.normal(0, 60, size=(n_writers, 2, 28, 28))  # every writer draws each class their own way
    images = np.clip(100 + style[writer, label] + rng.normal(0, 10, size=(len(writer), 28, 28)), 0, 255)
    frame = pd.DataFrame({"split": np.where(writer < 60, "train", "test"), "label": label, "writer_id": writer})
    table = compare_validation_splits(
        images, frame, models=["knn_pixels"], stratify_by_group=False, n_boot=200, cache=False
    )
    random, disjoint = table.loc["knn_pixels", "random"], table.loc["knn_pixels", "writer-disjoint"]
    assert random["shared_writers"] > 0
    assert disjoint["shared_writers"] == 0
    assert random["validation_error"] < 0.1  # recognises the writer's own way of drawing the class
    assert disjoint["validation_error"] > 0.3
    assert random["test_error"] > 0.3
    assert random["validation_error"] < disjoint["validation_error"]
    assert random["gap"] > disjoint["gap"] - 0.1
    assert {"validation_low", "validation_high", "test_low", "test_high"} <= set(table.columns)
    assert (table["validation_low"] <= table["validation_error"]).all()
    assert (table["validation_error"] <= table["validation_high"]).all()


def test_compare_validation_splits_refuses_mismatched_input():
    frame = pd.DataFrame({"split": ["train", "test"], "label": [0, 1], "writer_id": [1, 2]})
    with pytest.raises(ValueError, match="images: expected one image per frame row"):
        compare_validation_splits(np.zeros((3, 28, 28)), frame)
    with pytest.raises(ValueError, match="both the training and the test split"):
        compare_validation_splits(np.zeros((2, 28, 28)), frame.assign(split="train"))
    with pytest.raises(ValueError, match="models: expected a non-empty list"):
        compare_validation_splits(np.zeros((2, 28, 28)), frame, models="knn_pca")


@pytest.mark.realdata
def test_real_training_set_split_is_writer_disjoint_and_balanced(real_data):
    from mnist_analysis import load_frame

    frame = load_frame("train")
    train, validation = validation_split(frame, validation_fraction=0.2, seed=0, stratify_by_group=True)
    assert set(frame.loc[train, "writer_id"]).isdisjoint(frame.loc[validation, "writer_id"])
    balance = split_balance(frame, train, validation)
    assert np.abs(balance["validation_share"] - 0.2).max() < 0.01
    assert len(validation) == pytest.approx(12_000, rel=0.01)


def comparison_table(rows):
    index = pd.MultiIndex.from_tuples([(m, k) for m, k, *_ in rows], names=["model", "split"])
    values = [dict(zip(["validation_error", "validation_low", "validation_high", "test_error"], r[2:])) for r in rows]
    return pd.DataFrame(values, index=index)


def test_recommend_split_counts_covered_test_errors_then_gaps():
    table = comparison_table(
        [
            ("a", "random", 0.020, 0.018, 0.022, 0.026),
            ("a", "writer-disjoint", 0.031, 0.025, 0.038, 0.026),
            ("b", "random", 0.077, 0.070, 0.084, 0.079),
            ("b", "writer-disjoint", 0.087, 0.075, 0.099, 0.080),
        ]
    )
    result = recommend_split(table)
    assert result["recommended"] == "writer-disjoint"
    assert result["covered"] == {"random": 1, "writer-disjoint": 2}
    assert result["lower_validation_error"] == {"random": 2, "writer-disjoint": 0}
    assert result["mean_absolute_gap"]["random"] == pytest.approx((0.006 + 0.002) / 2)
    # equal coverage: the smaller gap wins
    tie = comparison_table(
        [("a", "random", 0.020, 0.010, 0.030, 0.021), ("a", "writer-disjoint", 0.030, 0.010, 0.040, 0.021)]
    )
    assert recommend_split(tie)["recommended"] == "random"


def test_recommend_split_refuses_other_tables():
    with pytest.raises(TypeError, match="table: expected the DataFrame"):
        recommend_split({"validation_error": 1})
    with pytest.raises(ValueError, match=r"table: expected index \(model, split\)"):
        recommend_split(pd.DataFrame({"validation_error": [0.1]}))
