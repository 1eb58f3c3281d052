"""Low-dimensional embeddings of digit images: PCA, UMAP and t-SNE, cached on disk.

:func:`pca` (seeded randomised SVD; :func:`fit_pca` for the basis itself), :func:`umap`
(umap-learn, optionally on principal components) and :func:`tsne` (openTSNE, on a sample)
take an array of images ``(n, height, width)`` or of feature rows ``(n, features)`` and
return an array with one row per input row; ``return_seconds=True`` also returns the time
the computation took.

Results are cached through :func:`mnist_analysis.caching.cache.cached_call` (kind ``embeddings``),
keyed by the data's content, every parameter, the code that computes them and the versions
of the libraries it uses; an entry that cannot be read or was altered is recomputed. Pass
``cache=False`` to bypass the cache.

:func:`digit_map` is the project's standard 2-D map of digits, shared by the notebooks:
the UMAP settings of :data:`FAST_UMAP` on flattened pixels, so a map computed in one
notebook is a cache hit in the next.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .utils import sample_rows
from .validation import feature_width, finite_array, image_stack, positive_int

#: Settings of the project's fast UMAP (see ``benchmarks/bench_umap.py``): reduce the pixels
#: to 50 exact principal components first, use 10 neighbours instead of 15, start from the
#: PCA layout instead of the spectral one, and optimise for 75 epochs with 3 negative samples
#: per edge instead of 200 with 5. Seeded runs are single-threaded in umap-learn, so the
#: optimisation is what costs. On all 70,000 digits these settings keep the 5-NN accuracy of
#: umap-learn's defaults on raw pixels (0.12 points lower) and lose 0.013 of trustworthiness
#: (0.940 against 0.952; ``benchmarks/results/umap.json``).
FAST_UMAP = {
    "pca_components": 50,
    "n_neighbors": 10,
    "min_dist": 0.1,
    "n_epochs": 75,
    "negative_sample_rate": 3,
    "init": "pca",
}

#: The fewest rows UMAP can embed: every row needs 2 neighbours besides itself.
MIN_UMAP_ROWS = 3

#: Rows t-SNE embeds by default (a seeded random sample of the input rows).
TSNE_SAMPLE_SIZE = 10_000


# --------------------------------------------------------------------------- checks
def check_features(data, *, name: str = "data") -> np.ndarray:
    """Check that ``data`` holds images ``(n, h, w)`` or rows ``(n, features)`` of finite real numbers.

    Returns it as an array without converting it, so a caller can validate its arguments
    without copying 70,000 images.

    Examples
    --------
    >>> check_features(np.zeros((3, 28, 28), dtype=np.uint8)).dtype
    dtype('uint8')
    """
    array = np.asarray(data)
    if array.ndim not in (2, 3):
        raise ValueError(f"{name}: expected images (n, height, width) or rows (n, features), found shape {array.shape}")
    if not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating) or array.dtype == bool):
        raise TypeError(f"{name}: expected an array of real numbers, found dtype {array.dtype}")
    if array.shape[0] < 2:
        raise ValueError(f"{name}: expected at least 2 rows, found {array.shape[0]}")
    finite_array(array, name)
    return array


def as_feature_matrix(data, *, name: str = "data") -> np.ndarray:
    """Return ``data`` as a ``(n, features)`` float32 array; images are flattened.

    Examples
    --------
    >>> as_feature_matrix(np.zeros((3, 28, 28), dtype=np.uint8)).shape
    (3, 784)
    """
    array = check_features(data, name=name)
    with np.errstate(over="ignore"):  # an overflow is refused just below, with a clearer message
        matrix = array.reshape(array.shape[0], -1).astype(np.float32, copy=False)
    if np.issubdtype(array.dtype, np.floating) and matrix.dtype != array.dtype:
        finite_array(matrix, name)  # float64 values beyond float32's range became infinite
    return matrix


def _n_features(array: np.ndarray) -> int:
    return int(np.prod(array.shape[1:]))


_positive_int = positive_int  # TypeError for a wrong type, ValueError for a wrong value (see validation)


# --------------------------------------------------------------------------- caching
def _run(compute, data, params: dict, cache: bool):
    """Call ``compute(data, **params)`` -> ``(result, seconds)``, through the project cache when ``cache`` is true.

    ``seconds`` is the time the computation took when it ran, also when read from the cache.
    """
    from mnist_analysis.caching.cache import cached_call

    return cached_call("embeddings", compute, data, cache=cache, **params)


# --------------------------------------------------------------------------- PCA
#: Rows handled at once where a whole stack of images would need several float copies.
_BLOCK_ROWS = 8192


@dataclass(frozen=True)
class PCABasis:
    """A fitted principal-component basis: ``scores = (X - mean) @ components.T``."""

    mean: np.ndarray  #: (features,) mean row
    components: np.ndarray  #: (k, features) unit principal axes, strongest first
    explained_variance_ratio: np.ndarray  #: (k,) share of total variance of each axis

    def transform(self, data) -> np.ndarray:
        """Project rows (or images) onto the basis: ``(n, k)`` float32 scores.

        Rows are converted and centred in blocks, in one reused float32 buffer: on all 70,000
        digits a float copy of the whole stack (220 MB, whose fresh pages cost seconds on a
        small VM) is avoided, and the scores are the same bits as the one-shot product.
        """
        array = check_features(data)
        flat = array.reshape(array.shape[0], -1)
        feature_width(flat, self.mean.shape[0], "data")
        if flat.dtype.kind == "f" and flat.dtype != np.float32 and np.abs(flat).max() > np.finfo(np.float32).max:
            as_feature_matrix(flat)  # refuses values beyond float32's range, with its message
        scores = np.empty((flat.shape[0], self.components.shape[0]), dtype=np.float32)
        buffer = np.empty((min(_BLOCK_ROWS, flat.shape[0]), flat.shape[1]), dtype=np.float32)
        for start in range(0, flat.shape[0], _BLOCK_ROWS):
            rows = flat[start : start + _BLOCK_ROWS]
            block = buffer[: rows.shape[0]]
            np.copyto(block, rows, casting="unsafe")
            np.subtract(block, self.mean, out=block)
            np.matmul(block, self.components.T, out=scores[start : start + rows.shape[0]])
        return scores

    def reconstruct(self, scores, n_components: int | None = None) -> np.ndarray:
        """Rebuild ``(n, features)`` rows from the first ``n_components`` scores."""
        k = self.components.shape[0] if n_components is None else _positive_int(n_components, "n_components")
        scores = np.asarray(scores, dtype=np.float32)
        if scores.ndim != 2 or scores.shape[1] < k:
            raise ValueError(
                f"scores: expected an array (n, at least {k}) of scores on this basis, found shape {scores.shape}"
            )
        return scores[:, :k] @ self.components[:k] + self.mean

    def reconstruction_rmse(self, data, n_components) -> dict:
        """Root-mean-square error, over every value of ``data``, of rebuilding it from its first k scores.

        One entry per k of ``n_components``. Rows are projected in blocks, so all 70,000 digits
        take tens of MB rather than a float copy of the whole stack per k.

        Examples
        --------
        >>> rng = np.random.default_rng(0)
        >>> rows = rng.normal(size=(50, 4))
        >>> errors = fit_pca(rows, None, cache=False).reconstruction_rmse(rows, [1, 4])
        >>> errors[1] > 0.5, errors[4] < 1e-5
        (True, True)
        """
        matrix = as_feature_matrix(data)
        ks = [_positive_int(k, "n_components") for k in n_components]
        squared = dict.fromkeys(ks, 0.0)
        for start in range(0, len(matrix), _BLOCK_ROWS):
            block = matrix[start : start + _BLOCK_ROWS]
            scores = self.transform(block)
            for k in ks:
                squared[k] += float(np.sum((self.reconstruct(scores, k) - block) ** 2, dtype=np.float64))
        return {k: float(np.sqrt(total / matrix.size)) for k, total in squared.items()}


def _compute_pca_basis(data, *, n_components, seed, exact=False):
    from sklearn.decomposition import PCA

    start = time.perf_counter()
    matrix = as_feature_matrix(data)
    if n_components is None or exact:  # exact, and no random step: eigenvectors of the covariance
        try:  # scikit-learn >= 1.5; much faster than an SVD when rows far outnumber features
            model = PCA(n_components, svd_solver="covariance_eigh").fit(matrix)
        except ValueError:
            model = PCA(n_components, svd_solver="full").fit(matrix)
    else:
        model = PCA(n_components=n_components, svd_solver="randomized", random_state=seed).fit(matrix)
    return PCABasis(
        mean=model.mean_.astype(np.float32),
        components=model.components_.astype(np.float32),
        explained_variance_ratio=model.explained_variance_ratio_.astype(np.float64),
    ), time.perf_counter() - start


def fit_pca(
    data, n_components: int | None = 50, *, seed: int = 0, cache: bool = True, return_seconds: bool = False
) -> PCABasis:
    """Fit principal components: randomised SVD (seeded), or the exact full spectrum.

    Parameters
    ----------
    data : array (n, height, width) or (n, features)
    n_components : int or None
        Axes to keep; ``None`` computes all of them exactly (for explained-variance curves).
    seed : int
        Random state of the randomised SVD.
    cache : bool
        Read and write the on-disk cache.
    return_seconds : bool
        Also return the seconds the computation took (when it ran, even if read from the cache).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> basis = fit_pca(rng.normal(size=(50, 8)), 3, cache=False)
    >>> basis.components.shape, bool(basis.explained_variance_ratio.sum() < 1)
    ((3, 8), True)
    """
    array = check_features(data)
    n_components = _positive_int(n_components, "n_components", allow_none=True)
    largest = min(array.shape[0], _n_features(array))
    if n_components is not None and n_components > largest:
        raise ValueError(f"n_components: expected at most min(n, features) = {largest}, found {n_components}")
    basis, seconds = _run(_compute_pca_basis, array, {"n_components": n_components, "seed": int(seed)}, cache)
    return (basis, seconds) if return_seconds else basis


def pca(data, n_components: int = 2, *, seed: int = 0, cache: bool = True, return_seconds: bool = False):
    """Return the ``(n, n_components)`` principal-component scores of ``data`` (randomised SVD).

    Parameters are those of :func:`fit_pca`; ``return_seconds=True`` returns ``(scores, seconds)``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> pca(rng.normal(size=(40, 6)), 2, cache=False).shape
    (40, 2)
    """
    basis, seconds = fit_pca(data, n_components, seed=seed, cache=cache, return_seconds=True)
    start = time.perf_counter()
    scores = basis.transform(data).astype(np.float32)
    return (scores, seconds + time.perf_counter() - start) if return_seconds else scores


# --------------------------------------------------------------------------- UMAP
def _reduce_with_pca(matrix, pca_components):
    """Project ``matrix`` on its first ``pca_components`` exact principal components (None: unchanged).

    Exact rather than randomised: on 70,000 x 784 pixels it is also about five times faster.
    """
    if pca_components is None or pca_components >= matrix.shape[1]:
        return matrix
    return _compute_pca_basis(matrix, n_components=pca_components, seed=0, exact=True)[0].transform(matrix)


def _compute_umap(
    data, *, n_components, n_neighbors, min_dist, pca_components, n_epochs, negative_sample_rate, init, seed
):
    import umap

    start = time.perf_counter()
    matrix = _reduce_with_pca(as_feature_matrix(data), pca_components)
    model = umap.UMAP(
        n_components=n_components,
        n_neighbors=n_neighbors,
        min_dist=min_dist,
        n_epochs=n_epochs,
        negative_sample_rate=negative_sample_rate,
        init=init,
        random_state=seed,
        n_jobs=1,
    )
    return model.fit_transform(matrix).astype(np.float32), time.perf_counter() - start


def umap(
    data,
    n_components: int = 2,
    *,
    n_neighbors: int = 15,
    min_dist: float = 0.1,
    pca_components: int | None = None,
    n_epochs: int | None = None,
    negative_sample_rate: int = 5,
    init: str = "spectral",
    seed: int = 0,
    cache: bool = True,
    return_seconds: bool = False,
):
    """Return a seeded UMAP embedding ``(n, n_components)`` of ``data`` (umap-learn).

    With its defaults this is umap-learn's own UMAP on the raw features, seeded and therefore
    single-threaded: the reference setting, and the slowest. For a 2-D map of any stack of digit
    images prefer :func:`digit_map` (:data:`FAST_UMAP`: PCA to 50 components, 10 neighbours,
    75 epochs), which fits all 70,000 digits in about 41 s in a fresh process (32 s once numba
    has compiled) against 67 s for umap-learn's unseeded defaults on both cores, with 5-NN
    accuracy 0.12 points and trustworthiness 0.013 below theirs (``benchmarks/bench_umap.py``);
    use this function to vary a setting or to reproduce a published UMAP.

    Parameters
    ----------
    data : array (n, height, width) or (n, features)
    n_components, n_neighbors, min_dist, n_epochs, negative_sample_rate, init
        As in :class:`umap.UMAP` (``n_epochs=None``: umap-learn's default, 200 for large data;
        ``init``: "spectral", "pca" or "random").
    pca_components : int or None
        Reduce the features to this many (exact) principal components first: much faster on
        pixels.
    seed : int
        Random state: same seed and data give the same embedding (umap-learn then runs
        single-threaded).
    cache : bool
        Read and write the on-disk cache.
    return_seconds : bool
        Return ``(embedding, seconds)``: also the time the computation took when it ran.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> umap(rng.normal(size=(60, 5)), n_neighbors=5, n_epochs=20, cache=False).shape
    (60, 2)
    """
    array = check_features(data)
    n_rows = array.shape[0]
    n_components = _positive_int(n_components, "n_components")
    n_neighbors = _positive_int(n_neighbors, "n_neighbors")
    pca_components = _positive_int(pca_components, "pca_components", allow_none=True)
    n_epochs = _positive_int(n_epochs, "n_epochs", allow_none=True)
    negative_sample_rate = _positive_int(negative_sample_rate, "negative_sample_rate")
    spectral = init in ("spectral", "tswspectral")
    minimum = max(MIN_UMAP_ROWS, n_components + 2 if spectral else 0)
    if n_rows < minimum:
        why = (
            f"init={init!r} needs n_components + 2 = {n_components + 2}; init='pca' needs {MIN_UMAP_ROWS}"
            if spectral and minimum > MIN_UMAP_ROWS
            else "each row needs at least 2 neighbours besides itself"
        )
        raise ValueError(f"data: UMAP needs at least {minimum} rows ({why}), found {n_rows}")
    if not 2 <= n_neighbors < n_rows:
        raise ValueError(f"n_neighbors: expected 2 <= n_neighbors < n rows ({n_rows}), found {n_neighbors}")
    if not float(min_dist) >= 0:
        raise ValueError(f"min_dist: expected a non-negative number, found {min_dist!r}")
    if init not in ("spectral", "pca", "random", "tswspectral"):
        raise ValueError(f"init: expected 'spectral', 'pca', 'random' or 'tswspectral', found {init!r}")
    params = {
        "n_components": n_components,
        "n_neighbors": n_neighbors,
        "min_dist": float(min_dist),
        "pca_components": pca_components,
        "n_epochs": n_epochs,
        "negative_sample_rate": negative_sample_rate,
        "init": init,
        "seed": int(seed),
    }
    embedding, seconds = _run(_compute_umap, array, params, cache)
    return (embedding, seconds) if return_seconds else embedding


def digit_map(images, *, seed: int = 0, cache: bool = True, return_seconds: bool = False) -> np.ndarray:
    """Return the project's standard 2-D map of digits: :data:`FAST_UMAP` on the pixels, cached.

    That is :func:`umap` on the flattened pixels, reduced to 50 principal components, with
    10 neighbours, a PCA start, 75 epochs and 3 negative samples per edge. Notebooks that
    call it with the same images and seed share one cache entry. ``return_seconds=True``
    returns ``(embedding, seconds)``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> digit_map(rng.integers(0, 256, size=(40, 28, 28), dtype=np.uint8), cache=False).shape
    (40, 2)
    """
    images = image_stack(images, min_images=MIN_UMAP_ROWS)
    pca_components = min(FAST_UMAP["pca_components"], images.shape[0], images.shape[1] * images.shape[2])
    settings = {
        **FAST_UMAP,
        "pca_components": pca_components,
        "n_neighbors": min(FAST_UMAP["n_neighbors"], images.shape[0] - 1),
    }
    return umap(images, 2, seed=seed, cache=cache, return_seconds=return_seconds, **settings)


# --------------------------------------------------------------------------- t-SNE
def _compute_tsne(data, *, n_components, perplexity, pca_components, seed):
    import openTSNE

    start = time.perf_counter()
    matrix = _reduce_with_pca(as_feature_matrix(data), pca_components)
    model = openTSNE.TSNE(
        n_components=n_components,
        perplexity=perplexity,
        initialization="pca",
        random_state=seed,
        negative_gradient_method="auto" if n_components <= 2 else "bh",
        n_jobs=1,
    )
    return np.asarray(model.fit(matrix), dtype=np.float32), time.perf_counter() - start


def tsne(
    data,
    n_components: int = 2,
    *,
    perplexity: float = 30.0,
    pca_components: int | None = 50,
    sample_size: int | None = TSNE_SAMPLE_SIZE,
    seed: int = 0,
    cache: bool = True,
    return_seconds: bool = False,
):
    """Return a seeded t-SNE embedding (openTSNE) of a sample of the rows.

    openTSNE (FFT-accelerated) is used rather than scikit-learn's Barnes-Hut t-SNE: on 5,000
    MNIST digits it ran about twice as fast for the same trustworthiness and k-NN accuracy.

    The result has one row per input row, aligned with ``data``; rows outside the sample
    (``sample_rows(len(data), sample_size, seed)``) are NaN.

    Parameters
    ----------
    data : array (n, height, width) or (n, features)
    perplexity : float
        As in :class:`openTSNE.TSNE`; must be below the number of embedded rows.
    pca_components : int or None
        Reduce the features to this many principal components first.
    sample_size : int or None
        Rows to embed; ``None`` embeds all of them.
    seed : int
        Picks the sample and seeds t-SNE.
    cache : bool
        Read and write the on-disk cache.
    return_seconds : bool
        Return ``(embedding, seconds)``: also the time the computation took when it ran.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> result = tsne(rng.normal(size=(60, 5)), perplexity=5, sample_size=40, cache=False)
    >>> result.shape, int(np.isnan(result[:, 0]).sum())
    ((60, 2), 20)
    """
    array = check_features(data)
    n_components = _positive_int(n_components, "n_components")
    pca_components = _positive_int(pca_components, "pca_components", allow_none=True)
    rows = sample_rows(array.shape[0], sample_size, seed)
    if not 0 < float(perplexity) < len(rows):
        raise ValueError(
            f"perplexity: expected a number between 0 and the rows embedded ({len(rows)}), found {perplexity!r}"
        )
    if pca_components is not None:
        pca_components = min(pca_components, len(rows), _n_features(array))
    params = {
        "n_components": n_components,
        "perplexity": float(perplexity),
        "pca_components": pca_components,
        "seed": int(seed),
    }
    sample = array[rows]
    result = np.full((array.shape[0], n_components), np.nan, dtype=np.float32)
    result[rows], seconds = _run(_compute_tsne, sample, params, cache)
    return (result, seconds) if return_seconds else result
