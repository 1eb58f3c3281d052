"""Slices: levels and quantile bins, the Bonferroni adjustment, and a slice's rows given back."""

import numpy as np
import pandas as pd
import pytest

from mnist_analysis.slices import slice_errors, slice_mask


@pytest.fixture
def data():
    rng = np.random.default_rng(1)
    n = 800
    features = pd.DataFrame(
        {
            "group": np.where(np.arange(n) % 2, "student", "census"),
            "label": np.arange(n) % 10,
            "thickness": rng.uniform(1, 5, n),
        }
    )
    # thick digits fail often, whatever else
    errors = np.where(features["thickness"] > 4, rng.random(n) < 0.5, rng.random(n) < 0.02)
    return errors, features, np.arange(n) // 4


def test_the_failing_bin_comes_first_and_is_flagged(data):
    errors, features, writers = data
    table = slice_errors(errors, features, writers, n_boot=500)
    top = table.iloc[0]
    assert top["feature"] == "thickness"
    assert top["low"] == pytest.approx(np.quantile(features["thickness"], 0.75))
    assert top["above_overall"]
    assert not table.iloc[1:]["above_overall"].any()
    assert table.attrs["slices_tried"] == 2 + 10 + 4
    assert table.attrs["adjusted_confidence"] == pytest.approx(1 - 0.05 / 16)
    assert table["n"].groupby(table["feature"]).sum().eq(len(errors)).all()  # the slices of a feature cover every digit
    mask = slice_mask(features, top)
    assert mask.sum() == top["n"]
    assert errors[mask].sum() == top["errors"]
    assert slice_mask(features, table[table["slice"] == "student"].iloc[0]).sum() == 400


def test_adjusted_intervals_are_wider_than_one_at_a_time(data):
    errors, features, writers = data
    many = slice_errors(errors, features, writers, n_boot=1000).set_index(["feature", "slice"])
    alone = slice_errors(errors, features[["group"]], writers, n_boot=1000).set_index(["feature", "slice"])
    width = lambda t: (t["ci_high"] - t["ci_low"]).loc[("group", "census")]  # noqa: E731
    assert width(many) > width(alone)


def test_small_slices_left_out_and_bad_input_named(data):
    errors, features, writers = data
    table = slice_errors(errors, features, writers, min_size=81, n_boot=200)
    assert "label" not in set(table["feature"])
    with pytest.raises(ValueError, match="features: expected a DataFrame with 800 rows"):
        slice_errors(errors, features.iloc[:10], writers)
    with pytest.raises(ValueError, match="no slice holds"):
        slice_errors(errors, features, writers, min_size=10_000)
