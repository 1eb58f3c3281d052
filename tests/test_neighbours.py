"""The pruned exact k-NN finds the neighbours a brute-force search finds, ties included."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from mnist_analysis.neighbours import ExactNeighboursClassifier, NeighbourIndex


def brute_force(train, queries, k, exclude=None):
    """Reference: every distance in float64, nearest first, the earlier row on a tie."""
    train, queries = train.astype(np.float64), queries.astype(np.float64)
    squared = ((queries[:, None, :] - train[None, :, :]) ** 2).sum(axis=2)
    if exclude is not None:
        squared[np.arange(len(queries)), exclude] = np.inf
    order = np.lexsort((np.broadcast_to(np.arange(len(train)), squared.shape), squared), axis=1)
    index = order[:, :k]
    return np.sqrt(np.take_along_axis(squared, index, axis=1)), index


def clustered_rows(seed, n, width=784, offset=0.0):
    """Rows near 10 centres, like digits near their class mean: the bound has to prune."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0, 255, size=(10, width))
    labels = rng.integers(0, 10, n)
    rows = centres[labels] + rng.normal(0, 40, size=(n, width)) + offset
    return rows.astype(np.float32), labels


@pytest.mark.parametrize(("offset", "n_jobs", "k"), [(0.0, 1, 3), (1e5, 1, 3), (0.0, 3, 3), (0.0, 2, 12)])
def test_neighbours_equal_a_brute_force_search(offset, n_jobs, k, monkeypatch):
    # A large common offset makes float32 cancellation as bad as it gets: the margin must hold.
    monkeypatch.setattr("mnist_analysis.neighbours.BATCH_SIZE", 16)  # several batches, side by side with n_jobs=3
    train, labels = clustered_rows(0, 600, offset=offset)
    queries, _ = clustered_rows(1, 150, offset=offset)
    model = ExactNeighboursClassifier(n_neighbors=k, n_components=16, n_jobs=n_jobs).fit(train, labels)
    distances, index = model.kneighbors(queries)
    expected_distances, expected_index = brute_force(train, queries, k)
    np.testing.assert_array_equal(index, expected_index)
    np.testing.assert_allclose(distances, expected_distances, rtol=1e-12)


@settings(max_examples=40, deadline=None)
@given(
    train=arrays(np.uint8, st.tuples(st.integers(3, 40), st.just(12)), elements=st.integers(0, 3)),
    queries=arrays(np.uint8, st.tuples(st.integers(1, 10), st.just(12)), elements=st.integers(0, 3)),
    k=st.integers(1, 3),
    n_components=st.integers(1, 12),
)
def test_ties_go_to_the_earlier_training_row(train, queries, k, n_components):
    # Few grey levels and short rows: many rows at exactly the same distance.
    labels = np.arange(len(train)) % 3
    model = ExactNeighboursClassifier(n_neighbors=k, n_components=n_components).fit(train, labels)
    _, index = model.kneighbors(queries)
    np.testing.assert_array_equal(index, brute_force(train, queries, k)[1])


@settings(max_examples=40, deadline=None)
@given(
    points=arrays(np.uint8, st.tuples(st.integers(3, 40), st.just(6)), elements=st.integers(0, 2)),
    k=st.integers(1, 2),
    data=st.data(),
)
def test_rows_left_out_are_never_found_but_their_copies_are(points, k, data):
    queries = data.draw(st.lists(st.integers(0, len(points) - 1), min_size=1, max_size=8))
    distances, rows = NeighbourIndex(points).search(points[queries], k, exclude=queries)
    expected_distances, expected_rows = brute_force(points, points[queries], k, exclude=queries)
    np.testing.assert_array_equal(rows, expected_rows)
    np.testing.assert_allclose(distances, expected_distances)
    assert not (rows == np.array(queries)[:, None]).any()


def test_an_index_searches_new_rows_and_refuses_what_it_cannot_answer():
    index = NeighbourIndex(np.array([[0, 0], [3, 4], [6, 8]], dtype=np.uint8))
    distances, rows = index.search(np.array([[3.0, 4.5]]), 3)
    assert rows.tolist() == [[1, 2, 0]]
    np.testing.assert_allclose(distances, [[0.5, np.hypot(3, 3.5), np.hypot(3, 4.5)]])
    with pytest.raises(ValueError, match=r"k: expected at most 2, found 3"):
        index.search(np.zeros((1, 2)), 3, exclude=[0])  # with its own row left out, two rows remain
    with pytest.raises(ValueError, match=r"exclude: expected one row position \(or -1\) per query"):
        index.search(np.zeros((1, 2)), 1, exclude=[3])
    with pytest.raises(ValueError, match="queries: expected rows of 2 values"):
        index.search(np.zeros((1, 3)), 1)


def test_values_float32_cannot_hold_are_searched_in_float64():
    # 2**24 + 1 is not a float32: rounding it would tie rows 1 and 2, whose distances differ by one
    points = np.array([[0], [2**24 + 1], [2**24 + 2]], dtype=np.int64)
    assert NeighbourIndex(points).rows.dtype == np.float64
    assert NeighbourIndex(points).search(points[:1], 1, exclude=[0])[1].tolist() == [[1]]
    assert NeighbourIndex(np.array([[0.5], [2.0]])).rows.dtype == np.float32  # exact in float32: kept so


def test_votes_are_shares_of_the_k_nearest_and_a_tie_goes_to_the_smaller_label():
    train = np.array([[0.0], [1.0], [2.0], [10.0]], dtype=np.float32)
    model = ExactNeighboursClassifier(n_neighbors=2, n_components=1).fit(train, [7, 3, 3, 7])
    np.testing.assert_array_equal(model.classes_, [3, 7])
    np.testing.assert_allclose(model.predict_proba([[0.2], [1.6], [9.0]]), [[0.5, 0.5], [1.0, 0.0], [0.5, 0.5]])
    # [0.2]: rows 0 (label 7) and 1 (label 3) vote one each; the smaller label wins
    np.testing.assert_array_equal(model.predict([[0.2], [1.6], [9.0]]), [3, 3, 3])


def test_it_matches_scikit_learns_classifier_in_a_pipeline():
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    train, labels = clustered_rows(2, 500, width=64)
    queries, _ = clustered_rows(3, 200, width=64)
    ours = make_pipeline(FunctionTransformer(), ExactNeighboursClassifier(n_neighbors=3, n_components=8))
    theirs = KNeighborsClassifier(n_neighbors=3, algorithm="brute")
    np.testing.assert_array_equal(
        ours.fit(train, labels).predict_proba(queries), theirs.fit(train, labels).predict_proba(queries)
    )


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda m, X: m.predict(X), "call fit"),
        (lambda m, X: m.fit(X[:2], [0, 1]), "n_neighbors: expected at most 2, found 3"),
        (lambda m, X: m.fit(X, [0, 1]), "y: expected 4"),
        (lambda m, X: m.fit(np.where(X > 0, np.nan, X), [0, 1, 0, 1]), "X: expected finite values"),
        (lambda m, X: m.fit(X, [0, 1, 0, 1]).predict(X[:, :2]), "X: expected rows of 3 values"),
        (lambda m, X: m.fit(X.ravel(), [0, 1, 0, 1]), "X: expected a non-empty 2-D array"),
        (lambda m, X: m.set_params(n_jobs=0).fit(X, [0, 1, 0, 1]).predict(X), "n_jobs: expected .*found 0"),
    ],
)
def test_bad_input_names_the_parameter(call, message):
    X = np.arange(12, dtype=np.float32).reshape(4, 3)
    with pytest.raises(ValueError, match=message):
        call(ExactNeighboursClassifier(n_neighbors=3, n_components=2), X)


@pytest.mark.realdata
@pytest.mark.parametrize("deskewed", [False, True])
def test_real_digits_have_scikit_learns_brute_force_neighbours(real_data, deskewed):
    from sklearn.neighbors import NearestNeighbors

    from mnist_analysis.data.loaders import load_images
    from mnist_analysis.measurements import deskew
    from mnist_analysis.perturbations import perturb

    train, test = load_images("train"), load_images("test")[:600]
    # Perturbed queries sit farther from every training digit: the bound must still prune right.
    test = np.concatenate([test, perturb(test[:200], "thicken", 2, cache=False)])
    if deskewed:
        train, test = deskew(train) / 255, deskew(test) / 255
    train, test = train.reshape(len(train), -1).astype(np.float32), test.reshape(len(test), -1).astype(np.float32)
    distances, index = ExactNeighboursClassifier(n_neighbors=3).fit(train, np.zeros(len(train))).kneighbors(test)
    expected_distances, expected_index = NearestNeighbors(n_neighbors=3, algorithm="brute").fit(train).kneighbors(test)
    # Where scikit-learn's float rounding makes two distances differ that are equal, it may order them
    # otherwise: compare the neighbours' indices everywhere else, and the distances everywhere.
    tied = np.isclose(np.diff(expected_distances, axis=1), 0, rtol=0, atol=1e-9).any(axis=1)
    assert tied.mean() < 0.01
    np.testing.assert_array_equal(index[~tied], expected_index[~tied])
    np.testing.assert_allclose(distances, expected_distances, rtol=1e-5)
