"""How far to trust the label-error ranking: plant wrong labels and count how many come back.

:func:`plant_label_noise` flips a fraction of chosen labels, seeded, in one of four ways:

- ``"instance"``: the realistic kind. Images are chosen with a probability that rises with
  their ambiguity to an *independent* model (one outside the audit's ensembles, fitted on
  other images), ``1 - p(given) + p(runner-up)``, and each is flipped to the class that model
  finds most likely after the given one: an ambiguous 4 becomes the 9 it resembles;
- ``"asymmetric"``: images chosen at random, each flipped to a class drawn from the
  independent model's confusions of its class (:func:`confusion_shares`);
- ``"uniform"``: images chosen at random, flipped to another class drawn uniformly;
- ``"confusable"``: every class to one fixed partner (:func:`most_confused_with`).

:func:`recovery` counts the planted rows among the top ``k`` of a ranking (precision =
planted found / k, recall = planted found / planted) and :func:`average_precision` gives the
area under the whole precision-recall curve. :func:`rank_labels` ranks with each of
:data:`RANKINGS`. :func:`planted_noise_recovery` runs the small experiment of notebook 05
(models refitted on the noisy labels); ``benchmarks/bench_label_issues.py`` runs the full
one on all 70,000 images, several seeds, kinds and fractions, every candidate ranking.

Precision here is a lower bound: MNIST has genuine label errors of its own, and one found
in the top ``k`` counts against precision.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .label_quality import AUDIT_MODELS, combine, label_issues, model_probabilities
from .validation import class_labels, integer, probability_rows
from .validation import seed as check_seed

#: The kinds of planted noise.
NOISE_KINDS = ("uniform", "confusable", "asymmetric", "instance")
#: Kinds that need the probabilities of an independent model.
_NEEDS_PROBABILITIES = ("asymmetric", "instance")

#: Ways of ranking labels, most suspicious first (see :func:`rank_labels`).
RANKINGS = {
    "self_confidence": "lowest probability of the given label first",
    "normalized_margin": "lowest normalised margin (given minus best other class) first",
    "confidence_weighted_entropy": "cleanlab's entropy of the row over the given label's probability",
    "flagged_first": (
        "cleanlab.filter.find_label_issues (prune_by_noise_rate) flags first, then self-confidence "
        "(the audit's ranking until now)"
    ),
    "flagged_both_first": "find_label_issues (filter_by='both') flags first, then self-confidence",
}


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
    labels = class_labels(labels)
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


def confusion_shares(labels, probabilities) -> np.ndarray:
    """Row-normalised confusions of a model: where each class's mistakes go.

    Parameters
    ----------
    labels : array of shape (n,)
        Classes 0..K-1.
    probabilities : array of shape (n, K)
        Out-of-sample probabilities of one model.

    Returns
    -------
    numpy.ndarray of shape (K, K)
        Entry ``(c, j)``: the share of the predictions ``j != c`` among the mistakes on
        images labelled ``c`` (counts plus 0.5 in every off-diagonal cell, so that a class
        never mistaken spreads evenly); the diagonal is 0 and every row sums to 1.

    Examples
    --------
    >>> labels = np.array([0, 0, 0, 1, 1, 2])
    >>> confusion_shares(labels, np.eye(3)[[0, 2, 2, 1, 0, 2]]).round(2).tolist()
    [[0.0, 0.17, 0.83], [0.75, 0.0, 0.25], [0.5, 0.5, 0.0]]
    """
    labels = class_labels(labels)
    probabilities = probability_rows(probabilities, "probabilities", len(labels))
    n_classes = labels.max() + 1
    if probabilities.shape[1] != n_classes:
        raise ValueError(f"probabilities: expected {n_classes} columns, found {probabilities.shape[1]}")
    counts = np.full((n_classes, n_classes), 0.5)
    np.add.at(counts, (labels, probabilities.argmax(axis=1)), 1)
    np.fill_diagonal(counts, 0)
    return counts / counts.sum(axis=1, keepdims=True)


def ambiguity(labels, probabilities) -> np.ndarray:
    """How ambiguous each image's given label is to a model: ``1 - p(given) + p(runner-up)``.

    The runner-up is the most probable class other than the given one. 0 for a label the
    model is sure of, 1 for a tie, 2 for a label it is sure is wrong.

    Examples
    --------
    >>> ambiguity(np.array([0, 0, 1]), np.array([[1.0, 0.0], [0.5, 0.5], [0.9, 0.1]])).tolist()
    [0.0, 1.0, 1.8]
    """
    labels = class_labels(labels)
    probabilities = probability_rows(probabilities, "probabilities", len(labels))
    given = probabilities[np.arange(len(labels)), labels]
    others = probabilities.copy()
    others[np.arange(len(labels)), labels] = -np.inf
    return 1.0 - given + others.max(axis=1)


def plant_label_noise(
    labels,
    rows,
    *,
    fraction: float = 0.01,
    kind: str = "uniform",
    confusions=None,
    probabilities=None,
    seed: int = 0,
):
    """Flip ``fraction`` of the labels at positions ``rows`` (seeded).

    Parameters
    ----------
    labels : array of shape (n,)
        Classes 0..K-1.
    rows : array of int
        Positions eligible for a flip, for example the test images.
    fraction : float
        Share of ``rows`` to flip (rounded; at least one).
    kind : {"uniform", "confusable", "asymmetric", "instance"}
        ``"uniform"``: rows chosen at random, a new class drawn uniformly among the other
        K-1; ``"confusable"``: rows at random, ``confusions[label]``; ``"asymmetric"``: rows
        at random, a new class drawn from the row of :func:`confusion_shares` of
        ``probabilities``; ``"instance"``: rows drawn with probability proportional to
        their :func:`ambiguity` under ``probabilities`` (plus 0.01, so that no row is
        impossible), each flipped to the most probable class after its given one.
    confusions : array of shape (K,), optional
        Required for ``"confusable"``, for example from :func:`most_confused_with`.
    probabilities : array of shape (len(rows), K), optional
        Required for ``"asymmetric"`` and ``"instance"``: out-of-sample probabilities of an
        independent model (one not among those whose ranking is measured) for the images at
        ``rows``, in that order.
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
    >>> p = np.eye(10)[labels]
    >>> p[:10] = np.eye(10)[3]     # the model takes the ten 0s for 3s
    >>> noisy, planted = plant_label_noise(labels, np.arange(100), fraction=0.05, kind="instance",
    ...                                    probabilities=p, seed=0)
    >>> planted.tolist(), noisy[planted].tolist()
    ([0, 2, 6, 8, 9], [3, 3, 3, 3, 3])
    """
    labels = class_labels(labels)
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
    if kind in _NEEDS_PROBABILITIES:
        if probabilities is None:
            raise ValueError(
                f"probabilities: expected an independent model's probabilities (kind={kind!r}), found None"
            )
        probabilities = probability_rows(probabilities, "probabilities", len(rows))
        if probabilities.shape[1] != n_classes:
            raise ValueError(f"probabilities: expected {n_classes} columns, found {probabilities.shape[1]}")
        shares = confusion_shares(labels[rows], probabilities)
    rng = np.random.default_rng(check_seed(seed))
    n_planted = max(1, round(fraction * len(rows)))
    if kind == "instance":
        weights = ambiguity(labels[rows], probabilities) + 0.01
        chosen = np.sort(rng.choice(len(rows), size=n_planted, replace=False, p=weights / weights.sum()))
    else:
        chosen = np.sort(rng.choice(len(rows), size=n_planted, replace=False))
    order = np.argsort(rows[chosen], kind="stable")
    chosen = chosen[order]
    planted = rows[chosen]
    noisy = labels.copy()
    if kind == "uniform":
        shift = rng.integers(1, n_classes, size=n_planted)
        noisy[planted] = (labels[planted] + shift) % n_classes
    elif kind == "confusable":
        noisy[planted] = confusions[labels[planted]]
    elif kind == "asymmetric":
        noisy[planted] = [rng.choice(n_classes, p=shares[c]) for c in labels[planted]]
    else:
        # The runner-up; ties (classes the model gives the same probability) go to the class
        # its mistakes on the given class reach most often.
        candidates = probabilities[chosen] + 1e-9 * shares[labels[planted]]
        candidates[np.arange(n_planted), labels[planted]] = -np.inf
        noisy[planted] = candidates.argmax(axis=1)
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


#: The independent model of the instance-dependent and asymmetric noise: the zoo's extremely
#: randomised trees on raw pixels (:data:`mnist_analysis.models.MODELS`), a kind of model that
#: no audit model is.
INDEPENDENT_MODEL = "extra_trees"


def planted_noise_recovery(
    images,
    labels,
    rows,
    ensembles: dict,
    *,
    fraction: float = 0.01,
    kinds=("instance", "asymmetric", "uniform"),
    ranking: str = "flagged_first",
    n_splits: int = 5,
    seed: int = 0,
    cache: bool = True,
) -> pd.DataFrame:
    """Plant each kind of noise among ``rows``, refit the models, and measure each ensemble's recovery.

    The independent model (:data:`INDEPENDENT_MODEL`) gives every image out-of-fold
    probabilities on the clean labels (:func:`mnist_analysis.models.out_of_fold_probabilities`):
    they define the instance-dependent and asymmetric flips. For each kind, the labels are
    flipped (:func:`plant_label_noise`), every model of the ensembles is refitted on all
    images with the noisy labels (:func:`mnist_analysis.label_quality.model_probabilities`),
    and each ensemble's averaged probabilities are ranked (:func:`rank_labels`) and scored
    among ``rows`` by :func:`recovery` at ``k`` = the planted count and twice that, and by
    :func:`average_precision`.

    Parameters
    ----------
    images : array of shape (n, 28, 28)
    labels : array of shape (n,)
        The clean (given) labels.
    rows : array of int
        Positions where noise may be planted, for example the test images.
    ensembles : dict
        ``{name: tuple of model names of AUDIT_MODELS}``.
    fraction, kinds, ranking, n_splits, seed, cache
        Share of ``rows`` flipped, the kinds of :data:`NOISE_KINDS` (``"confusable"`` follows
        the independent model's most frequent confusions), the ranking of :data:`RANKINGS`,
        folds, seed of the noise and the models, on-disk cache.

    Returns
    -------
    pandas.DataFrame
        One row per (kind, ensemble, k): ``kind``, ``ensemble``, ``models``, ``k``,
        ``k_over_planted``, ``planted``, ``found``, ``precision``, ``recall``,
        ``average_precision``, plus ``independent_model`` and ``independent_error``
        (its out-of-fold error rate on ``rows``).
    """
    from .models import out_of_fold_probabilities

    if not isinstance(ensembles, dict) or not ensembles:
        raise TypeError(f"ensembles: expected a non-empty dict name -> model names, found {ensembles!r}")
    kinds = [kinds] if isinstance(kinds, str) else list(kinds)
    unknown = [k for k in kinds if k not in NOISE_KINDS]
    if unknown or not kinds:
        raise ValueError(f"kinds: expected some of {list(NOISE_KINDS)}, found {kinds!r}")
    if ranking not in RANKINGS:
        raise ValueError(f"ranking: expected one of {list(RANKINGS)}, found {ranking!r}")
    labels = class_labels(labels)
    rows = np.asarray(rows)
    needed = [m for m in AUDIT_MODELS if any(m in models for models in ensembles.values())]
    independent = out_of_fold_probabilities(
        INDEPENDENT_MODEL, images, labels, n_splits=n_splits, seed=seed, cache=cache
    )[rows]
    independent_error = float(np.mean(independent.argmax(axis=1) != labels[rows]))
    confusions = most_confused_with(labels[rows], independent) if "confusable" in kinds else None
    tables = []
    for kind in kinds:
        noisy, planted = plant_label_noise(
            labels, rows, fraction=fraction, kind=kind, confusions=confusions, probabilities=independent, seed=seed
        )
        per_model = model_probabilities(images, noisy, models=needed, n_splits=n_splits, seed=seed, cache=cache)
        for name, models in ensembles.items():
            rank = rank_labels(noisy, combine(per_model, models), ranking)
            found = recovery(pd.DataFrame({"label_issue_rank": rank}), planted, rows, [len(planted), 2 * len(planted)])
            tables.append(
                found.assign(
                    kind=kind,
                    ensemble=name,
                    models="+".join(models),
                    k_over_planted=found["k"] // len(planted),
                    average_precision=average_precision(rank, planted, rows),
                )
            )
    columns = ["kind", "ensemble", "models", "k", "k_over_planted", "planted", "found", "precision", "recall"]
    return pd.concat(tables, ignore_index=True)[[*columns, "average_precision"]].assign(
        independent_model=INDEPENDENT_MODEL, independent_error=independent_error
    )


def rank_labels(labels, probabilities, ranking: str = "self_confidence") -> np.ndarray:
    """Rank every label by how likely it is wrong, with one of :data:`RANKINGS`.

    ``"self_confidence"``, ``"normalized_margin"`` and ``"confidence_weighted_entropy"``
    sort by cleanlab's label quality score of that name (``cleanlab.rank.get_label_quality_scores``),
    lowest first; ``"flagged_first"`` and ``"flagged_both_first"`` put the labels that
    ``cleanlab.filter.find_label_issues`` flags (``filter_by="prune_by_noise_rate"`` or
    ``"both"``) first, each group by self-confidence. Ties go to the earlier row.

    Parameters
    ----------
    labels : array of shape (n,)
        Given classes 0..K-1.
    probabilities : array of shape (n, K)
        Out-of-sample probabilities.
    ranking : str
        A key of :data:`RANKINGS`.

    Returns
    -------
    numpy.ndarray of int, shape (n,)
        1 = most likely wrong.

    Examples
    --------
    >>> labels = np.array([0, 1, 1, 0])
    >>> probabilities = np.array([[0.9, 0.1], [0.4, 0.6], [0.8, 0.2], [0.6, 0.4]])
    >>> rank_labels(labels, probabilities, "self_confidence").tolist()
    [4, 2, 1, 3]
    """
    if ranking not in RANKINGS:
        raise ValueError(f"ranking: expected one of {list(RANKINGS)}, found {ranking!r}")
    if ranking.startswith("flagged"):
        filter_by = "both" if ranking == "flagged_both_first" else "prune_by_noise_rate"
        return label_issues(labels, probabilities, filter_by=filter_by, ranking="flagged_first")[
            "label_issue_rank"
        ].to_numpy()
    from cleanlab.rank import get_label_quality_scores

    labels = class_labels(labels)
    probabilities = probability_rows(probabilities, "probabilities", len(labels))
    quality = get_label_quality_scores(labels, probabilities, method=ranking)
    order = np.lexsort((np.arange(len(labels)), quality))
    rank = np.empty(len(labels), dtype=np.int64)
    rank[order] = np.arange(1, len(labels) + 1)
    return rank


def average_precision(rank, planted, rows) -> float:
    """Area under the precision-recall curve of a ranking, for finding ``planted`` among ``rows``.

    The mean, over the planted rows, of the precision at the position where each is found
    (rows ranked by ``rank``, 1 = first): 1.0 when every planted row comes before every other.

    Examples
    --------
    >>> average_precision(np.array([1, 2, 3, 4]), planted=[0, 2], rows=np.arange(4))  # found at 1 and 3
    0.8333333333333333
    """
    rank = np.asarray(rank)
    rows = np.asarray(rows)
    planted = np.asarray(planted)
    if len(planted) == 0 or not np.isin(planted, rows).all():
        raise ValueError(f"planted: expected some of the rows ranked, found {planted!r}")
    ranked = rows[np.argsort(rank[rows], kind="stable")]
    hits = np.isin(ranked, planted)
    positions = np.flatnonzero(hits) + 1
    return float(np.mean(np.arange(1, len(positions) + 1) / positions))
