"""Shared utilities: the nearest-other-rows search and seeded row samples."""

from __future__ import annotations

import numpy as np

from mnist_analysis.utils import nearest_other_rows, sample_rows


def test_nearest_other_rows_never_returns_the_row_itself_even_behind_an_exact_copy():
    points = np.array([[0.0], [0.0], [5.0], [5.5], [9.0]])
    distances, rows = nearest_other_rows(points, 2)
    assert rows.shape == distances.shape == (5, 2)
    assert all(i not in rows[i] for i in range(5))
    assert rows[0].tolist() == [1, 2]
    assert rows[1].tolist() == [0, 2]
    np.testing.assert_allclose(distances[0], [0.0, 5.0])
    assert np.all(np.diff(distances, axis=1) >= 0)


def test_nearest_other_rows_agrees_with_a_brute_force_search_on_queried_rows():
    rng = np.random.default_rng(0)
    points = rng.normal(size=(200, 3))
    queries = np.array([5, 17, 199])
    distances, rows = nearest_other_rows(points, 4, queries=queries)
    full = np.linalg.norm(points[queries, None] - points[None], axis=2)
    full[np.arange(3), queries] = np.inf
    np.testing.assert_array_equal(rows, np.argsort(full, axis=1)[:, :4])
    np.testing.assert_allclose(distances, np.sort(full, axis=1)[:, :4])


def test_nearest_other_rows_drops_the_farthest_when_more_copies_than_k_tie():
    points = np.zeros((4, 2))
    distances, rows = nearest_other_rows(points, 2)
    assert np.all(distances == 0)
    assert all(i not in rows[i] for i in range(4))


def test_sample_rows_is_seeded_sorted_and_all_rows_when_large_enough():
    assert sample_rows(10, 4, seed=3).tolist() == sample_rows(10, 4, seed=3).tolist()
    assert np.all(np.diff(sample_rows(100, 30, seed=1)) > 0)
    assert sample_rows(5, 9).tolist() == [0, 1, 2, 3, 4]


def test_worker_processes_are_let_go_once_their_work_is_done():
    import psutil
    from joblib import delayed

    from mnist_analysis.utils import in_worker_processes

    assert in_worker_processes((delayed(pow)(n, 2) for n in range(6)), n_jobs=2) == [0, 1, 4, 9, 16, 25]
    workers = [
        p
        for p in psutil.Process().children(recursive=True)
        if "loky" in " ".join(p.cmdline()) and "resource_tracker" not in " ".join(p.cmdline())
    ]
    assert workers == []
