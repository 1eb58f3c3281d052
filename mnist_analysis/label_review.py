"""A review list of likely label errors that a person can work through, and who wrote them.

From the per-image table (:func:`mnist_analysis.per_image.per_image_table`):

- :func:`review_list`: the top candidates of one split, in the audit's order, with the given
  and suggested label, the label-quality score, each audit model's vote and the writer group;
- :func:`review_csv`: that list as CSV with the columns of :data:`REVIEW_COLUMNS`, and
  :func:`csv_download_link` an HTML link that carries it (no file is written);
- :func:`review_entries`: that list as the explorer (:func:`mnist_analysis.interactive.explorer`)
  ships it to the browser for its review panel: one small record per candidate, and the CSV;
- :func:`flagged_share_by_group`: the share of images flagged as likely label errors among
  the census and among the student digits, with intervals that resample whole writers
  (:func:`mnist_analysis.clustered_statistics.clustered_bootstrap_ci`): digits of one writer
  are not independent.
"""

from __future__ import annotations

import base64
import html

import numpy as np
import pandas as pd

#: The columns of the exported review list.
REVIEW_COLUMNS = {
    "split": "'train' or 'test'",
    "index": "position of the image in its MNIST file",
    "given": "the label in the data set",
    "suggested": "the label the audit's models suggest (suggested_label)",
    "score": "label quality (cleanlab self-confidence: the out-of-sample probability of the given label)",
    "rank": "1 = most likely label error of the split (by label_issue_rank)",
}
#: The per-image table's columns a review list needs (a table without them has no review list).
REVIEW_NEEDS = ("split", "index", "label", "suggested_label", "label_quality", "label_issue_rank", "writer_group")
#: The splits a review list can be drawn from.
SPLITS = ("train", "test")


def has_review_columns(table) -> bool:
    """Whether ``table`` is a DataFrame with every column a review list needs (:data:`REVIEW_NEEDS`).

    Examples
    --------
    >>> has_review_columns(pd.DataFrame({"split": ["test"], "label": [1]}))
    False
    """
    return isinstance(table, pd.DataFrame) and all(c in table.columns for c in REVIEW_NEEDS)


def _check_table(table) -> pd.DataFrame:
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"table: expected the per-image table (a DataFrame), found {type(table).__name__}")
    missing = [c for c in REVIEW_NEEDS if c not in table.columns]
    if missing:
        raise ValueError(f"table: expected the per-image table's columns, missing {missing}")
    return table


def review_list(table: pd.DataFrame, *, split: str = "test", top: int = 100) -> pd.DataFrame:
    """The ``top`` most likely label errors of ``split``, for a person to review.

    Parameters
    ----------
    table : pandas.DataFrame
        The per-image table (its ``split``, ``index``, ``label``, ``suggested_label``,
        ``label_quality``, ``label_issue_rank``, ``writer_group`` and ``predicted_*`` columns).
    split : {"train", "test"}
    top : int
        How many candidates (fewer if the split has fewer images).

    Returns
    -------
    pandas.DataFrame
        One row per candidate, best first, indexed like ``table``: the columns of
        :data:`REVIEW_COLUMNS`, then ``flagged`` (``is_label_issue``), one ``vote_<model>``
        column per ``predicted_<model>`` column (that model's out-of-sample prediction),
        ``votes`` (the votes as one string of digits, in that order), ``writer_group``, and
        when the table has them ``probability`` (``suggested_probability``) and
        ``disagreeing`` (``disagreeing_models``).

    Examples
    --------
    >>> table = pd.DataFrame({"split": ["test"] * 3, "index": [0, 1, 2], "label": [1, 7, 3],
    ...     "suggested_label": [1, 1, 3], "label_quality": [0.9, 0.1, 0.8], "label_issue_rank": [3, 1, 2],
    ...     "is_label_issue": [False, True, False], "writer_group": ["census", "student", "census"],
    ...     "predicted_knn": [1, 1, 3], "predicted_svm": [1, 7, 3]})
    >>> review_list(table, top=2)[["index", "given", "suggested", "rank", "votes"]].values.tolist()
    [[1, 7, 1, 1, '17'], [2, 3, 3, 2, '33']]
    """
    from .validation import integer

    table = _check_table(table)
    if split not in SPLITS:
        raise ValueError(f"split: expected 'train' or 'test', found {split!r}")
    top = integer(top, "top", minimum=1)
    rows = table[table["split"].astype(str) == split].sort_values("label_issue_rank", kind="stable").head(top)
    votes = [c for c in table.columns if str(c).startswith("predicted_")]
    review = pd.DataFrame(
        {
            "split": rows["split"].astype(str),
            "index": rows["index"].astype(np.int64),
            "given": rows["label"].astype(np.int64),
            "suggested": rows["suggested_label"].astype(np.int64),
            "score": rows["label_quality"].astype(np.float64),
            "rank": np.arange(1, len(rows) + 1),
        },
        index=rows.index,
    )
    if "is_label_issue" in rows.columns:
        review["flagged"] = rows["is_label_issue"].astype(bool)
    for column in votes:
        review[f"vote_{column.removeprefix('predicted_')}"] = rows[column].astype(np.int64)
    review["votes"] = ["".join(str(v) for v in row) for row in rows[votes].to_numpy()] if votes else ""
    review["writer_group"] = rows["writer_group"].astype(str)
    if "suggested_probability" in rows.columns:
        review["probability"] = rows["suggested_probability"].astype(np.float64)
    if "disagreeing_models" in rows.columns:
        review["disagreeing"] = rows["disagreeing_models"].astype(str)
    return review


def review_entries(review: pd.DataFrame, rows) -> dict:
    """The review list as the explorer's page carries it: one record per candidate, and its CSV.

    Parameters
    ----------
    review : pandas.DataFrame
        A list made by :func:`review_list`.
    rows : array of int
        Each candidate's row position among the explorer's points.

    Returns
    -------
    dict
        ``entries``: per candidate, best first, ``row``, ``rank``, ``split``, ``index``,
        ``given``, ``suggested``, ``score``, ``writer_group``, ``votes`` (model name -> vote,
        in the table's order) and, when the list has them, ``flagged``, ``probability`` and
        ``disagreeing`` (a missing number is ``None``); ``csv``: :func:`review_csv` of the list.
        Everything is plain JSON.

    Examples
    --------
    >>> table = pd.DataFrame({"split": ["test"] * 2, "index": [0, 1], "label": [1, 7],
    ...     "suggested_label": [1, 1], "label_quality": [0.9, 0.1], "label_issue_rank": [2, 1],
    ...     "writer_group": ["census", "student"], "predicted_knn": [1, 1]})
    >>> review = review_list(table)
    >>> shipped = review_entries(review, review.index.to_numpy())  # here the rows of the table are the points
    >>> [(e["row"], e["rank"], e["given"], e["suggested"], e["votes"]) for e in shipped["entries"]]
    [(1, 1, 7, 1, {'knn': 1}), (0, 2, 1, 1, {'knn': 1})]
    """
    missing = [c for c in (*REVIEW_COLUMNS, "writer_group") if c not in review.columns]
    if missing:
        raise ValueError(f"review: expected the columns of review_list, missing {missing}")
    rows = np.asarray(rows)
    if rows.shape != (len(review),) or not np.issubdtype(rows.dtype, np.integer) or (rows < 0).any():
        raise ValueError(
            f"rows: expected {len(review)} row positions (integers >= 0, one per candidate), "
            f"found {rows.dtype} {rows.shape}"
        )
    votes = [c for c in review.columns if str(c).startswith("vote_")]

    def number(value):
        return None if pd.isna(value) else float(value)

    entries = []
    for row, (_, candidate) in zip(rows.tolist(), review.iterrows(), strict=True):
        entry = {
            "row": row,
            "rank": int(candidate["rank"]),
            "split": str(candidate["split"]),
            "index": int(candidate["index"]),
            "given": int(candidate["given"]),
            "suggested": int(candidate["suggested"]),
            "score": number(candidate["score"]),
            "writer_group": str(candidate["writer_group"]),
            "votes": {c.removeprefix("vote_"): int(candidate[c]) for c in votes},
        }
        if "flagged" in review.columns:
            entry["flagged"] = bool(candidate["flagged"])
        if "probability" in review.columns:
            entry["probability"] = number(candidate["probability"])
        if "disagreeing" in review.columns:
            entry["disagreeing"] = str(candidate["disagreeing"])
        entries.append(entry)
    return {"entries": entries, "csv": review_csv(review)}


def review_csv(review: pd.DataFrame) -> str:
    """The review list as CSV text: a header ``split,index,given,suggested,score,rank`` and one line per row.

    Examples
    --------
    >>> review = pd.DataFrame({"split": ["test"], "index": [9], "given": [4], "suggested": [9],
    ...                        "score": [0.0123456], "rank": [1], "votes": ["99"]})
    >>> print(review_csv(review), end="")
    split,index,given,suggested,score,rank
    test,9,4,9,0.0123456,1
    """
    missing = [c for c in REVIEW_COLUMNS if c not in review.columns]
    if missing:
        raise ValueError(f"review: expected the columns of review_list, missing {missing}")
    return review[list(REVIEW_COLUMNS)].to_csv(index=False, float_format="%.6g", lineterminator="\n")


def csv_download_link(text: str, filename: str, label: str | None = None) -> str:
    """An HTML link that downloads ``text`` as the file ``filename`` (a data URI; nothing is written to disk).

    Examples
    --------
    >>> csv_download_link("a,b\\n1,2\\n", "x.csv")
    '<a download="x.csv" href="data:text/csv;charset=utf-8;base64,YSxiCjEsMgo=">Download x.csv</a>'
    """
    if not isinstance(text, str) or not isinstance(filename, str) or not filename:
        raise TypeError("text and filename: expected strings, filename not empty")
    encoded = base64.b64encode(text.encode("utf-8")).decode("ascii")
    shown = html.escape(label if label is not None else f"Download {filename}")
    return f'<a download="{html.escape(filename)}" href="data:text/csv;charset=utf-8;base64,{encoded}">{shown}</a>'


def flagged_share_by_group(table: pd.DataFrame, *, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Share of images flagged as likely label errors in each writer group, with writer-clustered intervals.

    Parameters
    ----------
    table : pandas.DataFrame
        The per-image table (``writer_group``, ``writer_id`` and ``is_label_issue``).
    n_boot, seed
        Resamples of the writer-clustered bootstrap, and its seed.

    Returns
    -------
    pandas.DataFrame
        Indexed by writer group: ``images``, ``writers``, ``flagged``, ``share`` and the 95 %
        percentile interval ``ci_low``, ``ci_high`` of the share when whole writers are resampled.

    Examples
    --------
    >>> table = pd.DataFrame({"writer_group": ["census"] * 4 + ["student"] * 4,
    ...                       "writer_id": [0, 0, 1, 1, 2, 2, 3, 3],
    ...                       "is_label_issue": [True, False, False, False, False, False, False, False]})
    >>> shares = flagged_share_by_group(table, n_boot=200)
    >>> shares["flagged"].to_dict(), shares["share"].to_dict()
    ({'census': 1, 'student': 0}, {'census': 0.25, 'student': 0.0})
    """
    from .clustered_statistics import clustered_bootstrap_ci

    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"table: expected the per-image table (a DataFrame), found {type(table).__name__}")
    missing = [c for c in ("writer_group", "writer_id", "is_label_issue") if c not in table.columns]
    if missing:
        raise ValueError(f"table: expected the per-image table's columns, missing {missing}")
    records = {}
    for group, rows in table.groupby(table["writer_group"].astype(str), sort=True):
        flagged = rows["is_label_issue"].to_numpy(dtype=np.float64)
        ci = clustered_bootstrap_ci(flagged, rows["writer_id"].to_numpy(), n_boot=n_boot, seed=seed)
        records[group] = {
            "images": len(rows),
            "writers": int(rows["writer_id"].nunique()),
            "flagged": int(flagged.sum()),
            "share": float(flagged.mean()),
            "ci_low": float(ci["ci_low"]),
            "ci_high": float(ci["ci_high"]),
        }
    shares = pd.DataFrame.from_dict(records, orient="index").rename_axis("writer_group")
    return shares.astype({"images": np.int64, "writers": np.int64, "flagged": np.int64})
