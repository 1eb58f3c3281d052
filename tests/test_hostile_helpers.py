"""Misuse of the helpers (issue 13): TypeError for a wrong type, ValueError for a wrong value, named."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mnist_analysis import (
    clustered_statistics,
    embedding_quality,
    embeddings,
    evaluation,
    label_quality,
    measurements,
    validation,
)
from mnist_analysis.data.loaders import sample_frame


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame({"split": ["train"] * 60 + ["test"] * 40, "label": np.arange(100) % 10})


@pytest.fixture
def digits() -> np.ndarray:
    images = np.zeros((6, 28, 28), dtype=np.uint8)
    for i, image in enumerate(images):
        image[6 + i : 20, 10:14] = 255
    return images


# ------------------------------------------------------------------ sample_frame
@pytest.mark.parametrize(
    ("seed", "error"), [(-1, ValueError), (2**32, ValueError), ("x", TypeError), (1.5, TypeError), (True, TypeError)]
)
def test_sample_frame_names_a_bad_seed(frame, seed, error):
    with pytest.raises(error, match=r"^seed: expected an integer from 0 to 4,294,967,295, found"):
        sample_frame(frame, 10, seed)


def test_a_split_of_the_wrong_type_is_a_type_error():
    from mnist_analysis.data.loaders import load_images

    with pytest.raises(TypeError, match=r"^split: expected 'train', 'test' or 'all', found int 1$"):
        load_images(1)


def test_sample_frame_names_the_missing_columns(frame):
    with pytest.raises(ValueError, match=r"frame: expected the columns \['split', 'label'\].*missing \['split'\]"):
        sample_frame(frame.drop(columns="split"), 10)
    with pytest.raises(TypeError, match="frame: expected a pandas DataFrame, found ndarray"):
        sample_frame(frame.to_numpy(), 10)


# ------------------------------------------------------------------ embeddings on too few rows, wrong widths
def test_umap_on_three_rows_names_the_minimum():
    rng = np.random.default_rng(0)
    with pytest.raises(
        ValueError,
        match=r"^data: UMAP needs at least 4 rows \(init='spectral' needs n_components "
        r"\+ 2 = 4; init='pca' needs 3\), found 3$",
    ):
        embeddings.umap(rng.normal(size=(3, 5)), n_neighbors=2, cache=False)
    with pytest.raises(ValueError, match=r"^data: UMAP needs at least 3 rows .*found 2"):
        embeddings.umap(rng.normal(size=(2, 5)), n_neighbors=2, init="pca", cache=False)
    assert embeddings.umap(rng.normal(size=(3, 5)), n_neighbors=2, init="pca", n_epochs=10, cache=False).shape == (3, 2)


def test_digit_map_on_two_images_names_the_minimum(digits):
    with pytest.raises(ValueError, match=r"^images: expected at least 3 images, found 2$"):
        embeddings.digit_map(digits[:2], cache=False)


def test_pca_transform_with_the_wrong_width_names_the_expected_width():
    rng = np.random.default_rng(0)
    basis = embeddings.fit_pca(rng.normal(size=(20, 8)), 3, cache=False)
    with pytest.raises(ValueError, match=r"^data: expected rows of 8 features .*found 7$"):
        basis.transform(rng.normal(size=(4, 7)))
    with pytest.raises(ValueError, match=r"^scores: expected an array \(n, at least 3\)"):
        basis.reconstruct(np.zeros((4, 2)))
    assert basis.transform(rng.normal(size=(4, 8))).shape == (4, 3)


@pytest.mark.parametrize(("value", "error"), [("10", TypeError), (2.0, TypeError), (0, ValueError), (-3, ValueError)])
def test_embedding_counts_raise_typeerror_for_types_and_valueerror_for_values(value, error):
    data = np.random.default_rng(0).normal(size=(30, 5))
    with pytest.raises(error, match=r"^n_neighbors: expected a positive integer"):
        embeddings.umap(data, n_neighbors=value, cache=False)


# ------------------------------------------------------------------ measure on values that are not 0-255 grey levels
@pytest.mark.parametrize(
    ("value", "message"),
    [
        (np.nan, "images: expected finite values, found 1 NaN or infinite value"),
        (np.inf, "images: expected finite values, found 1 NaN or infinite value"),
        (-1.0, r"images: expected grey levels from 0 to 255, found a negative value \(-1.0\)"),
        (300.0, r"images: expected grey levels from 0 to 255, found a value above 255 \(300.0\)"),
    ],
)
def test_measure_refuses_values_that_are_not_grey_levels(digits, value, message):
    images = digits.astype(np.float64)
    images[0, 0, 0] = value
    with pytest.raises(ValueError, match=message):
        measurements.measure(images, cache=False)


@pytest.mark.parametrize("scale", [np.float32, np.int64, bool])
def test_measure_refuses_a_0_1_scale_that_would_give_area_0(digits, scale):
    images = (digits / 255).astype(scale)
    expected = TypeError if scale is bool else ValueError
    with pytest.raises(expected, match=r"0-1 scale|found dtype bool"):
        measurements.measure(images, cache=False)


def test_measure_on_proper_grey_levels_still_works(digits):
    table = measurements.measure(digits.astype(np.float32), cache=False)
    assert (table["area"] > 0).all()
    assert table["thickness"].notna().all()


@pytest.mark.parametrize(
    ("threshold", "error"), [("128", TypeError), (127.5, TypeError), (0, ValueError), (256, ValueError)]
)
def test_measure_names_a_bad_threshold(digits, threshold, error):
    with pytest.raises(error, match=r"^threshold: expected"):
        measurements.measure(digits, threshold=threshold, cache=False)


def test_measure_refuses_empty_images():
    with pytest.raises(ValueError, match=r"^images: expected images of at least 1x1 pixel, found shape \(2, 0, 0\)$"):
        measurements.measure(np.zeros((2, 0, 0), dtype=np.uint8), cache=False)


# ------------------------------------------------------------------ distance_to_class_mean
@pytest.mark.parametrize(
    ("labels", "error", "message"),
    [
        ([1, 1, np.nan, 2, 2, 2], ValueError, "labels: expected whole-number class labels, found 1 NaN"),
        ([1, 1, 2.5, 2, 2, 2], ValueError, "fractional"),
        (["a"] * 6, TypeError, "labels: expected integer class labels, found dtype <U1"),
        ([1, 2], ValueError, r"labels: expected one label per item, shape \(6,\), found shape \(2,\)"),
    ],
)
def test_distance_to_class_mean_refuses_bad_labels(digits, labels, error, message):
    with pytest.raises(error, match=message):
        measurements.distance_to_class_mean(digits, labels)


def test_distance_to_class_mean_takes_whole_float_labels(digits):
    as_float = measurements.distance_to_class_mean(digits, np.array([1, 1, 2, 2, 2, 2], dtype=float))
    np.testing.assert_array_equal(as_float, measurements.distance_to_class_mean(digits, [1, 1, 2, 2, 2, 2]))
    assert np.isfinite(as_float).all()


# ------------------------------------------------------------------ the shared checks themselves
def test_validation_checks_split_type_and_value_errors_consistently(tmp_path):
    for check, wrong_type, wrong_value in [
        (lambda v: validation.positive_int(v, "n"), "3", 0),
        (validation.seed, 1.0, -1),
        (lambda v: validation.finite_float(v, "x", minimum=0), "0.1", -0.5),
        (lambda v: validation.labels(v), np.array(["a"]), np.array([np.inf])),
        (lambda v: validation.image_stack(v), np.array([[["a"]]]), np.zeros((2, 28))),
        (lambda v: validation.frame_columns(v, ["label"]), {"label": [1]}, pd.DataFrame({"x": [1]})),
        (lambda v: validation.output_folder(v), 3, tmp_path / "file"),
    ]:
        (tmp_path / "file").write_text("")
        with pytest.raises(TypeError, match="expected"):
            check(wrong_type)
        with pytest.raises(ValueError, match="expected"):
            check(wrong_value)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda: label_quality.outlier_scores(np.zeros((5, 4, 4)), k="2", cache=False),
            TypeError,
            "^k: expected an integer",
        ),
        (lambda: label_quality.outlier_scores(np.zeros((5, 4, 4)), k=0, cache=False), ValueError, "^k: expected"),
        (
            lambda: clustered_statistics.bootstrap_ci(np.arange(10.0), confidence="0.9"),
            TypeError,
            "^confidence: expected a real",
        ),
        (
            lambda: clustered_statistics.bootstrap_ci(np.arange(10.0), confidence=1.5),
            ValueError,
            "^confidence: expected a number",
        ),
        (
            lambda: clustered_statistics.bootstrap_ci(np.arange(10.0), n_boot=10.0),
            TypeError,
            "^n_boot: expected an integer",
        ),
        (
            lambda: embedding_quality.class_mixing(np.zeros((6, 2)), np.arange(6) % 2, n_neighbors=2.0),
            TypeError,
            "^n_neighbors: expected an integer",
        ),
        (
            lambda: embedding_quality.class_mixing(np.zeros((6, 2)), np.arange(6) % 2, n_neighbors=9),
            ValueError,
            "^n_neighbors: expected an integer between 1 and n rows - 1",
        ),
    ],
)
def test_other_modules_split_type_and_value_errors_the_same_way(call, error, message):
    with pytest.raises(error, match=message):
        call()


# ------------------------------------------------------------------ issue 25: validation_split's seed
@pytest.mark.parametrize("by_writer", [True, False])
@pytest.mark.parametrize(("seed", "error"), [(-1, ValueError), (2**32, ValueError), ("1", TypeError)])
def test_validation_split_names_a_bad_seed_and_its_value(by_writer, seed, error):
    from mnist_analysis.splits import validation_split

    training = pd.DataFrame({"label": np.tile([0, 1], 50), "writer_id": np.repeat(np.arange(10), 10)})
    with pytest.raises(error, match=rf"^seed: expected an integer from 0 to 4,294,967,295, found .*{seed!r}"):
        validation_split(training, seed=seed, by_writer=by_writer)


# ------------------------------------------------------------------ one rule everywhere
CONFIDENCE_CALLS = {
    "evaluation.error_rate": lambda c: evaluation.error_rate([1, 2, 3], [1, 2, 0], confidence=c),
    "clustered_statistics.bootstrap_ci": lambda c: clustered_statistics.bootstrap_ci([1.0, 2.0, 3.0], confidence=c),
}


@pytest.mark.parametrize("call", CONFIDENCE_CALLS.values(), ids=CONFIDENCE_CALLS)
@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        ("0.9", TypeError, "confidence: expected a real number, found str"),
        (1, ValueError, r"confidence: expected a number between 0 and 1 \(both excluded\), found 1.0"),
        (0.0, ValueError, "found 0.0"),
        (float("nan"), ValueError, "confidence: expected a finite number"),
    ],
)
def test_a_bad_confidence_raises_the_same_error_in_every_module(call, value, error, message):
    with pytest.raises(error, match=message):
        call(value)


@pytest.mark.parametrize(
    "call",
    [
        lambda p: evaluation.error_rate_table([1, 2], p),
        lambda p: evaluation.model_agreement(p),
        lambda p: evaluation.errors_by_model([1, 2], p),
    ],
)
def test_predictions_that_are_not_a_mapping_are_a_type_error_and_an_empty_one_a_value_error(call):
    with pytest.raises(TypeError, match=r"predictions: expected a non-empty mapping of model name to .*, found list"):
        call([[1, 2]])
    with pytest.raises(ValueError, match=r"predictions: expected a non-empty mapping .*, found an empty dict"):
        call({})
