"""How far to trust the label-error ranking: plant wrong labels and count how many come back.

:func:`plant_label_noise` flips a fraction of chosen labels, seeded, in one of two ways:

- ``"uniform"``: to another class drawn uniformly at random;
- ``"confusable"``: to the class that the best model confuses each digit with most often
  (:func:`most_confused_with`), the realistic kind: a 4 labelled 9, a 7 labelled 2.

:func:`recovery` counts the planted rows among the top ``k`` of the ranking of
:func:`mnist_analysis.label_quality.label_issues` (precision = planted found / k, recall = planted
found / planted). :func:`planted_noise_recovery` runs the whole experiment: the models are
refitted on the noisy labels (an image is still never scored by a model that saw its own
label) and every ensemble of :data:`mnist_analysis.label_quality.AUDIT_MODELS` asked for is
ranked. ``benchmarks/bench_label_issues.py`` runs it on all 70,000 images with noise planted
in the test labels; notebook 05 shows it.

Precision here is a lower bound: MNIST has genuine label errors of its own, and one found
in the top ``k`` counts against precision.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .label_quality import AUDIT_MODELS, _class_labels, combine, label_issues, model_probabilities
from .validation import integer
from .validation import seed as check_seed

#: The kinds of planted noise.
NOISE_KINDS = ("uniform", "confusable")


def most_confused_with(labels, probabilities) -> np.ndarray:
    """For each class, the other class that the model predicts most often for its images.

    Parameters
    ----------
    labels : array of shape (n,)
        Classes 0..K-1.
    probabilities : array of shape (n, K)
        Out-of-sample probabilities of one model.

    Returns
    -------
    numpy.ndarray of shape (K,)
        Entry ``c`` is the most frequent wrong prediction among images labelled ``c``
        (ties: the smaller class; a class never mistaken takes its most probable other class).

    Examples
    --------
    >>> labels = np.array([0, 0, 0, 1, 1, 2])
    >>> probabilities = np.eye(3)[[0, 2, 2, 1, 0, 2]]
    >>> most_confused_with(labels, probabilities).tolist()
    [2, 0, 0]
    """
    labels = _class_labels(labels)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    n_classes = labels.max() + 1
    if probabilities.shape != (len(labels), n_classes):
        raise ValueError(f"probabilities: expected shape ({len(labels)}, {n_classes}), found {probabilities.shape}")
    counts = np.zeros((n_classes, n_classes))
    np.add.at(counts, (labels, probabilities.argmax(axis=1)), 1)
    # Second key: the mean probability, so that a class never mistaken still gets a partner.
    mean_probability = np.stack([probabilities[labels == c].mean(axis=0) for c in range(n_classes)])
    score = counts + mean_probability / 2  # counts are integers: the mean only breaks ties
    np.fill_diagonal(score, -np.inf)
    return score.argmax(axis=1)


def plant_label_noise(labels, rows, *, fraction: float = 0.01, kind: str = "uniform", confusions=None, seed: int = 0):
    """Flip ``fraction`` of the labels at positions ``rows`` (chosen at random, seeded).

    Parameters
    ----------
    labels : array of shape (n,)
        Classes 0..K-1.
    rows : array of int
        Positions eligible for a flip, for example the test images.
    fraction : float
        Share of ``rows`` to flip (rounded; at least one).
    kind : {"uniform", "confusable"}
        ``"uniform"``: a new class drawn uniformly among the other K-1; ``"confusable"``:
        ``confusions[label]``.
    confusions : array of shape (K,), optional
        Required for ``"confusable"``, for example from :func:`most_confused_with`.
    seed : int
        Seeds the choice of rows and of the new labels.

    Returns
    -------
    noisy : numpy.ndarray of shape (n,)
        A copy of ``labels`` with the flips.
    planted : numpy.ndarray of int
        The flipped positions, sorted.

    Examples
    --------
    >>> labels = np.arange(10).repeat(10)
    >>> noisy, planted = plant_label_noise(labels, np.arange(100), fraction=0.05, seed=1)
    >>> len(planted), bool((noisy[planted] != labels[planted]).all()), int((noisy != labels).sum())
    (5, True, 5)
    """
    labels = _class_labels(labels)
    rows = np.asarray(rows)
    if (
        rows.ndim != 1
        or not np.issubdtype(rows.dtype, np.integer)
        or len(rows) == 0
        or rows.min() < 0
        or rows.max() >= len(labels)
        or len(np.unique(rows)) != len(rows)
    ):
        raise ValueError(f"rows: expected distinct positions in 0..{len(labels) - 1}, found {rows!r}")
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float, np.floating)):
        raise TypeError(f"fraction: expected a number, found {type(fraction).__name__} {fraction!r}")
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction: expected a share in (0, 1], found {fraction!r}")
    if kind not in NOISE_KINDS:
        raise ValueError(f"kind: expected one of {list(NOISE_KINDS)}, found {kind!r}")
    n_classes = labels.max() + 1
    if kind == "confusable":
        if confusions is None:
            raise ValueError(
                "confusions: expected the class each class is confused with (kind='confusable'), found None"
            )
        confusions = np.asarray(confusions)
        if (
            confusions.shape != (n_classes,)
            or not np.issubdtype(confusions.dtype, np.integer)
            or (confusions == np.arange(n_classes)).any()
            or confusions.min() < 0
            or confusions.max() >= n_classes
        ):
            raise ValueError(
                f"confusions: expected {n_classes} classes, each different from its position, found {confusions!r}"
            )
    rng = np.random.default_rng(check_seed(seed))
    n_planted = max(1, int(round(fraction * len(rows))))
    planted = np.sort(rng.choice(rows, size=n_planted, replace=False))
    noisy = labels.copy()
    if kind == "uniform":
        shift = rng.integers(1, n_classes, size=n_planted)
        noisy[planted] = (labels[planted] + shift) % n_classes
    else:
        noisy[planted] = confusions[labels[planted]]
    return noisy, planted


def recovery(issues: pd.DataFrame, planted, rows, ks) -> pd.DataFrame:
    """Precision and recall of the planted flips among the top ``k`` ranked ``rows``.

    Parameters
    ----------
    issues : pandas.DataFrame
        From :func:`mnist_analysis.label_quality.label_issues`, one row per image.
    planted : array of int
        Positions whose labels were flipped.
    rows : array of int
        The positions ranked (those noise was planted among), by ``label_issue_rank``.
    ks : sequence of int
        Lengths of the top of the ranking.

    Returns
    -------
    pandas.DataFrame
        One row per ``k``: ``k``, ``planted``, ``found``, ``precision``, ``recall``.

    Examples
    --------
    >>> issues = pd.DataFrame({"label_issue_rank": [3, 1, 2, 4]})
    >>> recovery(issues, [1, 3], np.arange(4), [1, 2]).to_dict("list")
    {'k': [1, 2], 'planted': [2, 2], 'found': [1, 1], 'precision': [1.0, 0.5], 'recall': [0.5, 0.5]}
    """
    planted = np.asarray(planted)
    rows = np.asarray(rows)
    ranked = rows[np.argsort(issues["label_issue_rank"].to_numpy()[rows], kind="stable")]
    is_planted = np.isin(ranked, planted)
    records = []
    for k in ks:
        k = integer(k, "k", minimum=1, maximum=len(rows))
        found = int(is_planted[:k].sum())
        records.append(
            {"k": k, "planted": len(planted), "found": found, "precision": found / k, "recall": found / len(planted)}
        )
    return pd.DataFrame(records)


def planted_noise_recovery(
    images,
    labels,
    rows,
    ensembles: dict,
    *,
    fraction: float = 0.01,
    kinds=NOISE_KINDS,
    n_splits: int = 5,
    seed: int = 0,
    cache: bool = True,
) -> pd.DataFrame:
    """Plant each kind of noise among ``rows``, refit the models, and measure each ensemble's recovery.

    The best model (lowest out-of-sample error on the clean ``labels``) defines the
    confusable flips (:func:`most_confused_with`). For each kind, the labels are flipped
    (:func:`plant_label_noise`), every model of the ensembles is refitted on all images with
    the noisy labels (:func:`mnist_analysis.label_quality.model_probabilities`), and each ensemble's
    averaged probabilities are ranked by :func:`mnist_analysis.label_quality.label_issues` and
    scored by :func:`recovery` at ``k`` = the planted count and twice that.

    Parameters
    ----------
    images : array of shape (n, 28, 28)
    labels : array of shape (n,)
        The clean (given) labels.
    rows : array of int
        Positions where noise may be planted, for example the test images.
    ensembles : dict
        ``{name: tuple of model names of AUDIT_MODELS}``.
    fraction, kinds, n_splits, seed, cache
        Share of ``rows`` flipped, the kinds of :data:`NOISE_KINDS`, folds, seed of the
        noise and the models, on-disk cache.

    Returns
    -------
    pandas.DataFrame
        One row per (kind, ensemble, k): ``kind``, ``ensemble``, ``models``, ``k``,
        ``k_over_planted``, ``planted``, ``found``, ``precision``, ``recall``, plus
        ``best_model`` and ``confusions`` (the confusable mapping, ``"0→6 1→7 ..."``).
    """
    if not isinstance(ensembles, dict) or not ensembles:
        raise TypeError(f"ensembles: expected a non-empty dict name -> model names, found {ensembles!r}")
    kinds = [kinds] if isinstance(kinds, str) else list(kinds)
    unknown = [k for k in kinds if k not in NOISE_KINDS]
    if unknown or not kinds:
        raise ValueError(f"kinds: expected some of {list(NOISE_KINDS)}, found {kinds!r}")
    labels = _class_labels(labels)
    needed = [m for m in AUDIT_MODELS if any(m in models for models in ensembles.values())]
    clean = model_probabilities(images, labels, models=list(AUDIT_MODELS), n_splits=n_splits, seed=seed, cache=cache)
    errors = {name: float(np.mean(p.argmax(axis=1) != labels)) for name, p in clean.items()}
    best = min(errors, key=errors.get)
    confusions = most_confused_with(labels, clean[best])
    described = " ".join(f"{c}→{t}" for c, t in enumerate(confusions))
    tables = []
    for kind in kinds:
        noisy, planted = plant_label_noise(labels, rows, fraction=fraction, kind=kind, confusions=confusions, seed=seed)
        per_model = model_probabilities(images, noisy, models=needed, n_splits=n_splits, seed=seed, cache=cache)
        for name, models in ensembles.items():
            issues = label_issues(noisy, combine(per_model, models))
            found = recovery(issues, planted, rows, [len(planted), 2 * len(planted)])
            tables.append(
                found.assign(
                    kind=kind, ensemble=name, models="+".join(models), k_over_planted=found["k"] // len(planted)
                )
            )
    columns = ["kind", "ensemble", "models", "k", "k_over_planted", "planted", "found", "precision", "recall"]
    return pd.concat(tables, ignore_index=True)[columns].assign(best_model=best, confusions=described)
