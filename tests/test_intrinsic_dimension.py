"""Intrinsic-dimension helpers on synthetic data whose dimension is known by construction."""

import numpy as np
import pytest

from mnist_analysis import intrinsic_dimension as idim
from tests.helpers import stored_computations


def embedded(points, ambient=10, seed=0):
    """``points`` rotated into ``ambient`` dimensions: the intrinsic dimension stays that of ``points``."""
    rotation, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(ambient, ambient)))
    padded = np.zeros((len(points), ambient))
    padded[:, : points.shape[1]] = points
    return padded @ rotation


@pytest.mark.parametrize("dimension", [1, 2, 5])
def test_mle_and_twonn_recover_the_dimension_of_uniform_cubes(dimension):
    cube = np.random.default_rng(dimension).uniform(size=(4000, dimension))
    distances, _ = idim.neighbour_distances(embedded(cube), 20, cache=False)
    table = idim.dimension_estimates(distances, ks=(5, 10, 20)).set_index("estimator")
    assert table["dimension"].to_numpy() == pytest.approx(dimension, rel=0.15)
    assert (table["excluded"] == 0).all()
    assert (table["n"] == 4000).all()


def test_points_on_a_curved_line_have_dimension_one():
    t = np.random.default_rng(1).uniform(0, 3 * np.pi, 3000)
    spiral = np.column_stack([np.cos(t), np.sin(t), 0.2 * t])
    distances, _ = idim.neighbour_distances(spiral, 10, cache=False)
    table = idim.dimension_estimates(distances, ks=(5, 10))
    assert table["dimension"].to_numpy() == pytest.approx(1.0, abs=0.1)


def test_grouped_search_stays_within_groups_and_queries_select_rows():
    rng = np.random.default_rng(0)
    points = np.concatenate([rng.normal(0, 1, (50, 3)), rng.normal(0.1, 1, (60, 3))])  # overlapping groups
    groups = np.repeat([0, 1], [50, 60])
    distances, indices = idim.neighbour_distances(points, 5, groups=groups, cache=False)
    assert (groups[indices] == groups[:, None]).all()
    assert (indices != np.arange(110)[:, None]).all()
    assert np.allclose(distances, np.linalg.norm(points[indices] - points[:, None], axis=2))
    assert (np.diff(distances, axis=1) >= 0).all()
    some, some_indices = idim.neighbour_distances(points, 5, groups=groups, queries=[3, 70], cache=False)
    assert np.array_equal(some_indices, indices[[3, 70]])
    assert np.allclose(some, distances[[3, 70]])


def test_neighbour_distances_are_exact_and_cached(monkeypatch):
    computed = stored_computations(monkeypatch)
    images = np.random.default_rng(0).integers(0, 256, (40, 28, 28), dtype=np.uint8)
    first = idim.neighbour_distances(images, 3)
    again = idim.neighbour_distances(images.copy(), 3)
    assert computed == ["mnist_analysis.intrinsic_dimension._neighbour_distances"]
    assert np.array_equal(first[0], again[0])
    assert np.array_equal(first[1], again[1])
    flat = images.reshape(40, -1).astype(float)
    assert np.array_equal(first[0][:, 0], np.linalg.norm(flat[first[1][:, 0]] - flat, axis=1))


def brute_force(points, k):
    """Every row's ``k`` nearest other rows by exact float64 distances, ties by row position."""
    flat = points.reshape(len(points), -1).astype(np.float64)
    exact = np.linalg.norm(flat[:, None] - flat[None], axis=2)
    np.fill_diagonal(exact, np.inf)
    order = np.lexsort((np.broadcast_to(np.arange(len(flat)), exact.shape), exact), axis=1)[:, :k]
    return np.take_along_axis(exact, order, axis=1), order


@pytest.mark.parametrize(
    "points",
    [
        np.random.default_rng(0).integers(0, 256, (300, 64), dtype=np.uint8),  # bytes: exact in int32
        np.random.default_rng(1).integers(-(10**6), 10**6, (300, 8)),  # int32 would overflow: int64
        np.random.default_rng(2).normal(size=(300, 6)).astype(np.float32),
    ],
    ids=["uint8", "large-int", "float32"],
)
def test_search_matches_brute_force_for_bytes_large_integers_and_floats(points):
    distances, indices = idim.neighbour_distances(points, 7, cache=False)
    expected_distances, expected_indices = brute_force(points, 7)
    assert np.array_equal(indices, expected_indices)
    if np.issubdtype(points.dtype, np.integer):  # integer squared distances are exact: so are their roots
        assert np.array_equal(distances, expected_distances)
    else:  # the same float64 terms, summed in another order
        assert np.allclose(distances, expected_distances, rtol=1e-12, atol=0)


def test_rows_tied_beyond_the_candidate_count_are_all_weighed_and_ordered_by_position():
    # Row 0 has 12 rows at distance 1 (more than k + the extra candidates) and the rest farther:
    # its neighbours are the tied rows of lowest position, whatever order a partition leaves them in.
    points = np.zeros((40, 12), dtype=np.uint8)
    points[1:13] = np.eye(12, dtype=np.uint8)[np.random.default_rng(0).permutation(12)]  # all at distance 1
    points[13:] = np.random.default_rng(1).integers(3, 6, (27, 12))
    distances, indices = idim.neighbour_distances(points, 4, queries=[0], cache=False)
    assert indices[0].tolist() == [1, 2, 3, 4]
    assert distances[0].tolist() == [1.0] * 4


def test_duplicates_are_excluded_and_counted_not_given_a_value():
    distances = np.array([[0.0, 1.0, 2.0], [1.0, 2.0, 4.0], [1.0, 2.0, 4.0]])
    table = idim.dimension_estimates(distances, ks=(3,)).set_index("estimator")
    assert table["excluded"].tolist() == [1, 1]
    assert table["n"].tolist() == [2, 2]
    assert table.loc["TwoNN", "dimension"] == pytest.approx(1 / np.log(2))
    assert table.loc["MLE k=3", "dimension"] == pytest.approx(1 / np.mean([np.log(4), np.log(2)]))


def test_writer_bootstrap_interval_brackets_the_estimate_and_widens_with_writer_effects():
    rng = np.random.default_rng(0)
    cube = rng.uniform(size=(3000, 3))
    distances, _ = idim.neighbour_distances(cube, 10, cache=False)
    writers = np.arange(3000) % 100
    row = idim.dimension_estimates(distances, ks=(10,), writers=writers, n_boot=300).iloc[0]
    assert row["ci_low"] < row["dimension"] < row["ci_high"]
    assert row["ci_high"] - row["ci_low"] < 0.5


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: idim.neighbour_distances(np.zeros((5, 2)), 5, cache=False), "more than k=5 rows"),
        (lambda: idim.neighbour_distances(np.array([[np.nan, 0.0]] * 9), 2, cache=False), "finite"),
        (lambda: idim.neighbour_distances(np.zeros((9, 2)), 2, queries=[9], cache=False), "queries"),
        (lambda: idim.mle_inverse(np.ones((3, 4)), 1), "at least 2"),
        (lambda: idim.mle_inverse(np.array([[2.0, 1.0]]), 2), "sorted"),
        (lambda: idim.mle_inverse(np.ones((3, 2)), 5), r"\(n, >= 5\)"),
        (lambda: idim.dimension_from_inverse([np.nan]), "duplicates"),
        (lambda: idim.dimension_from_inverse([0.0, 0.0]), "ties"),
    ],
)
def test_bad_input_is_refused_with_a_message_naming_it(call, message):
    with pytest.raises(ValueError, match=message):
        call()
