"""Embeddings on small synthetic data: shapes, seeded determinism, and the on-disk cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import make_blobs

from mnist_analysis import embeddings
from mnist_analysis.utils import sample_rows


@pytest.fixture
def cache_folder(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("MNIST_ANALYSIS_CACHE_DIR", str(tmp_path))
    return tmp_path


@pytest.fixture(scope="module")
def blobs():
    data, labels = make_blobs(n_samples=120, centers=3, n_features=12, random_state=0)
    return data.astype(np.float32), labels


@pytest.fixture(scope="module")
def digit_like_images():
    """Three kinds of 28x28 'digits' (a bar, a ring, a cross) with random pixel noise."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:28, :28]
    shapes = [
        (abs(xx - 14) < 3) & (abs(yy - 14) < 10),
        abs(np.hypot(xx - 14, yy - 14) - 8) < 2,
        (abs(xx - yy) < 2) | (abs(xx + yy - 27) < 2),
    ]
    images = np.stack([shapes[i % 3] * 200 + rng.integers(0, 40, (28, 28)) for i in range(60)])
    return images.astype(np.uint8)


def output_files(folder: Path) -> list[Path]:
    """The stored embedding entries (one folder each)."""
    return sorted(p.parent for p in (folder / "computed" / "embeddings").glob("*/entry.json"))


# ----------------------------------------------------------------------------- shapes
def test_pca_scores_and_basis_shapes(blobs, cache_folder):
    data, _ = blobs
    assert embeddings.pca(data, 3).shape == (120, 3)
    basis = embeddings.fit_pca(data, 4)
    assert basis.components.shape == (4, 12)
    assert np.all(np.diff(basis.explained_variance_ratio) <= 0)


def test_full_pca_spectrum_sums_to_one_and_reconstructs_exactly(blobs, cache_folder):
    data, _ = blobs
    basis = embeddings.fit_pca(data, None)
    assert basis.components.shape == (12, 12)
    assert basis.explained_variance_ratio.sum() == pytest.approx(1.0)
    rebuilt = basis.reconstruct(basis.transform(data))
    np.testing.assert_allclose(rebuilt, data, atol=1e-3)
    one_axis_error = np.abs(basis.reconstruct(basis.transform(data), 1) - data).mean()
    assert one_axis_error > 0.1


def test_pca_of_images_flattens_them(digit_like_images, cache_folder):
    assert embeddings.pca(digit_like_images, 2).shape == (60, 2)


@pytest.mark.slow
def test_umap_and_digit_map_shapes(blobs, digit_like_images, cache_folder):
    data, _ = blobs
    assert embeddings.umap(data, n_neighbors=10, n_epochs=30).shape == (120, 2)
    assert embeddings.umap(data, 3, n_neighbors=10, n_epochs=30, pca_components=5).shape == (120, 3)
    assert embeddings.digit_map(digit_like_images).shape == (60, 2)


def test_tsne_embeds_a_sample_aligned_with_the_input(blobs, cache_folder):
    data, _ = blobs
    result = embeddings.tsne(data, perplexity=10, sample_size=80, seed=1)
    embedded = ~np.isnan(result).any(axis=1)
    assert result.shape == (120, 2)
    assert embedded.sum() == 80
    np.testing.assert_array_equal(np.flatnonzero(embedded), sample_rows(120, 80, seed=1))


def test_umap_separates_blobs(blobs, cache_folder):
    data, labels = blobs
    result = embeddings.umap(data, n_neighbors=10, n_epochs=100)
    centres = np.stack([result[labels == k].mean(axis=0) for k in range(3)])
    spread = max(result[labels == k].std(axis=0).max() for k in range(3))
    gaps = [np.linalg.norm(centres[i] - centres[j]) for i in range(3) for j in range(i + 1, 3)]
    assert min(gaps) > 2 * spread


# ----------------------------------------------------------------------------- determinism
def test_seeded_runs_are_deterministic(blobs):
    data, _ = blobs
    settings = {"n_neighbors": 10, "n_epochs": 30, "cache": False}
    first = embeddings.umap(data, seed=3, **settings)
    np.testing.assert_array_equal(first, embeddings.umap(data, seed=3, **settings))
    assert not np.array_equal(first, embeddings.umap(data, seed=4, **settings))
    np.testing.assert_array_equal(
        embeddings.tsne(data, perplexity=10, seed=2, cache=False),
        embeddings.tsne(data, perplexity=10, seed=2, cache=False),
    )
    np.testing.assert_array_equal(
        embeddings.pca(data, 2, seed=5, cache=False), embeddings.pca(data, 2, seed=5, cache=False)
    )


# ----------------------------------------------------------------------------- cache
def test_cache_hit_reads_the_stored_result_without_computing(blobs, cache_folder, monkeypatch):
    data, _ = blobs
    computed = embeddings.umap(data, n_neighbors=10, n_epochs=30)
    (entry,) = output_files(cache_folder)
    import umap

    monkeypatch.setattr(umap, "UMAP", lambda **_: pytest.fail("a cache hit must not run UMAP again"))
    np.testing.assert_array_equal(embeddings.umap(data.copy(), n_neighbors=10, n_epochs=30), computed)
    assert output_files(cache_folder) == [entry]


def test_cache_miss_when_a_parameter_data_or_library_version_changes(blobs, cache_folder, monkeypatch):
    from mnist_analysis.caching import fingerprints

    data, _ = blobs
    embeddings.umap(data, n_neighbors=10, n_epochs=30)
    assert len(output_files(cache_folder)) == 1
    embeddings.umap(data, n_neighbors=10, n_epochs=31)
    assert len(output_files(cache_folder)) == 2
    changed = data.copy()
    changed[0, 0] += 1
    embeddings.umap(changed, n_neighbors=10, n_epochs=30)
    assert len(output_files(cache_folder)) == 3
    real_version = fingerprints._version
    monkeypatch.setattr(fingerprints, "_version", lambda d: "0.0.0" if d == "umap-learn" else real_version(d))
    embeddings.umap(data, n_neighbors=10, n_epochs=30)
    assert len(output_files(cache_folder)) == 4
    embeddings.umap(data, n_neighbors=10, n_epochs=30, negative_sample_rate=3)
    assert len(output_files(cache_folder)) == 5


def test_corrupt_cache_entry_is_recomputed_and_repaired(blobs, cache_folder):
    data, _ = blobs
    expected = embeddings.umap(data, n_neighbors=10, n_epochs=30, cache=False)
    embeddings.umap(data, n_neighbors=10, n_epochs=30)
    (entry,) = output_files(cache_folder)
    (stored,) = entry.glob("*.npy")
    stored.write_bytes(b"this is not an array")
    with pytest.warns(UserWarning, match="unusable"):
        recomputed = embeddings.umap(data, n_neighbors=10, n_epochs=30)
    np.testing.assert_array_equal(recomputed, expected)
    (entry,) = output_files(cache_folder)
    np.testing.assert_array_equal(np.load(next(entry.glob("*.npy"))), expected)  # and the entry is repaired


def test_digit_map_hits_the_cache_for_a_memmap_or_a_copy(digit_like_images, cache_folder, tmp_path):
    path = tmp_path / "images.npy"
    np.save(path, digit_like_images)
    from_memmap = embeddings.digit_map(np.load(path, mmap_mode="r"), seed=0)
    assert len(output_files(cache_folder)) == 1
    np.testing.assert_array_equal(embeddings.digit_map(digit_like_images.copy(), seed=0), from_memmap)
    assert len(output_files(cache_folder)) == 1
    embeddings.digit_map(digit_like_images, seed=1)
    assert len(output_files(cache_folder)) == 2


def test_compute_seconds_are_kept_with_the_cached_result(blobs, cache_folder):
    data, _ = blobs
    embedding, seconds = embeddings.umap(data, n_neighbors=10, n_epochs=30, return_seconds=True)
    assert seconds > 0
    again, cached_seconds = embeddings.umap(data, n_neighbors=10, n_epochs=30, return_seconds=True)
    np.testing.assert_array_equal(again, embedding)
    assert cached_seconds == seconds
    basis, pca_seconds = embeddings.fit_pca(data, 2, return_seconds=True)
    cached_basis = embeddings.fit_pca(data, 2)
    assert isinstance(cached_basis, embeddings.PCABasis)
    assert pca_seconds > 0
    np.testing.assert_array_equal(cached_basis.components, basis.components)


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda d: embeddings.umap(d[:, 0]), "data"),
        (lambda d: embeddings.umap(d, n_neighbors=500), "n_neighbors"),
        (lambda d: embeddings.umap(d, n_epochs=0), "n_epochs"),
        (lambda d: embeddings.umap(d, negative_sample_rate=0), "negative_sample_rate"),
        (lambda d: embeddings.pca(d, 0), "n_components"),
        (lambda d: embeddings.fit_pca(d, 13), "n_components"),
        (lambda d: embeddings.tsne(d, perplexity=200), "perplexity"),
        (lambda d: embeddings.digit_map(d), "images"),
        (lambda d: embeddings.pca(np.array([["a", "b"], ["c", "d"]])), "data"),
        (lambda d: embeddings.pca(np.where(d > 0, np.nan, d)), "data"),
        (lambda d: embeddings.as_feature_matrix(np.full(d.shape, 1e300)), "data"),  # overflows float32
    ],
)
def test_bad_input_names_the_parameter(blobs, call, message):
    data, _ = blobs
    with pytest.raises((ValueError, TypeError), match=message):
        call(data)


def test_reconstruction_error_in_blocks_equals_the_error_over_the_whole_stack(monkeypatch):
    images = np.random.default_rng(2).integers(0, 256, size=(45, 6, 6), dtype=np.uint8)
    basis = embeddings.fit_pca(images, None, cache=False)
    flat = images.reshape(45, -1).astype(np.float32)
    scores = basis.transform(flat)
    expected = {k: float(np.sqrt(np.mean((basis.reconstruct(scores, k) - flat) ** 2))) for k in (1, 3, 36)}
    monkeypatch.setattr(embeddings, "_BLOCK_ROWS", 8)  # 6 blocks, the last one short
    errors = basis.reconstruction_rmse(images, [1, 3, 36])
    assert errors == pytest.approx(expected, rel=1e-6, abs=1e-4)  # k=36 leaves float32 noise only
    assert errors[1] > errors[3] > errors[36]
    assert errors[36] < 1e-3


@pytest.mark.parametrize("dtype", [np.uint8, np.float64, bool])
def test_transform_in_blocks_gives_the_bits_of_the_one_shot_product(monkeypatch, dtype):
    rng = np.random.default_rng(3)
    rows = rng.integers(0, 256, size=(45, 6, 6)).astype(dtype)
    basis = embeddings.fit_pca(rng.normal(size=(80, 36)), 5, cache=False)
    one_shot = (embeddings.as_feature_matrix(rows) - basis.mean) @ basis.components.T
    monkeypatch.setattr(embeddings, "_BLOCK_ROWS", 8)  # 6 blocks, the last one short
    scores = basis.transform(rows)
    assert scores.dtype == np.float32
    assert scores.shape == (45, 5)
    np.testing.assert_array_equal(scores, one_shot)


def test_transform_refuses_rows_beyond_float32_and_the_wrong_width():
    basis = embeddings.fit_pca(np.random.default_rng(4).normal(size=(30, 4)), 2, cache=False)
    with pytest.raises(ValueError, match="data: expected finite values"):
        basis.transform(np.full((3, 4), 1e300))
    with pytest.raises(ValueError, match="data: expected rows of 4 features"):
        basis.transform(np.zeros((3, 5)))
