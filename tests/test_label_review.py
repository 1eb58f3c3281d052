"""The review list of likely label errors, its CSV, and the flagged share by writer group."""

import base64

import numpy as np
import pandas as pd
import pytest

from mnist_analysis import label_review


def fake_table(n=300, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    rank = rng.permutation(n) + 1
    writer = np.repeat(np.arange(n // 10), 10)
    return pd.DataFrame(
        {
            "split": np.where(np.arange(n) < n // 2, "train", "test"),
            "index": np.r_[np.arange(n // 2), np.arange(n - n // 2)],
            "label": labels,
            "suggested_label": (labels + (rank <= 20)) % 10,
            "label_quality": rank / n,
            "label_issue_rank": rank,
            "is_label_issue": rank <= 20,
            "writer_id": writer,
            "writer_group": np.where(writer % 2 == 0, "census", "student"),
            "predicted_knn": labels,
            "predicted_svm_hog": (labels + 1) % 10,
        }
    )


def test_review_list_takes_the_top_of_one_split_in_rank_order_with_every_vote():
    table = fake_table()
    review = label_review.review_list(table, split="test", top=25)
    test = table[table["split"] == "test"].sort_values("label_issue_rank")
    assert list(review.index) == list(test.index[:25])
    assert review["rank"].tolist() == list(range(1, 26))
    assert (review["split"] == "test").all()
    assert list(review.columns[:6]) == list(label_review.REVIEW_COLUMNS)
    np.testing.assert_array_equal(review["given"], test["label"][:25])
    np.testing.assert_array_equal(review["suggested"], test["suggested_label"][:25])
    np.testing.assert_array_equal(review["vote_svm_hog"], test["predicted_svm_hog"][:25])
    assert review["votes"].iloc[0] == f"{test['predicted_knn'].iloc[0]}{test['predicted_svm_hog'].iloc[0]}"
    assert len(label_review.review_list(table, split="train", top=1000)) == 150


def test_review_entries_are_plain_json_records_of_the_list_with_probability_and_disagreeing_models():
    import json

    table = fake_table().assign(suggested_probability=0.75, disagreeing_models="svm_hog")
    table.loc[3, "suggested_probability"] = np.nan
    review = label_review.review_list(table, split="train", top=5)
    assert review["probability"].iloc[0] == 0.75 or review.index[0] == 3
    assert (review["disagreeing"] == "svm_hog").all()
    shipped = label_review.review_entries(review, np.arange(5) + 10)
    assert json.loads(json.dumps(shipped, allow_nan=False)) == shipped  # plain JSON, no NaN
    entries = shipped["entries"]
    assert [e["row"] for e in entries] == [10, 11, 12, 13, 14]
    assert [e["index"] for e in entries] == table.loc[review.index, "index"].tolist()
    assert [e["votes"]["svm_hog"] for e in entries] == table.loc[review.index, "predicted_svm_hog"].tolist()
    assert all(e["probability"] is None for e, i in zip(entries, review.index, strict=True) if i == 3)
    assert shipped["csv"] == label_review.review_csv(review)
    assert not label_review.has_review_columns(table.drop(columns=["label_issue_rank"]))
    assert label_review.has_review_columns(table)
    with pytest.raises(ValueError, match=r"rows: expected 5 row positions"):
        label_review.review_entries(review, [1, 2])
    with pytest.raises(ValueError, match=r"review: expected the columns of review_list, missing \['rank'\]"):
        label_review.review_entries(review.drop(columns=["rank"]), np.arange(5))


def test_csv_has_exactly_the_review_columns_and_reads_back():
    review = label_review.review_list(fake_table(), top=10)
    text = label_review.review_csv(review)
    assert text.splitlines()[0] == "split,index,given,suggested,score,rank"
    back = pd.read_csv(pd.io.common.StringIO(text))
    assert len(back) == 10
    assert back["rank"].tolist() == list(range(1, 11))
    np.testing.assert_allclose(back["score"], review["score"], rtol=1e-5)
    link = label_review.csv_download_link(text, "label_review_test.csv")
    encoded = link.split("base64,")[1].split('"')[0]
    assert base64.b64decode(encoded).decode() == text
    assert 'download="label_review_test.csv"' in link


def test_flagged_share_by_group_resamples_writers():
    table = fake_table(2000)
    shares = label_review.flagged_share_by_group(table, n_boot=300, seed=1)
    assert list(shares.index) == ["census", "student"]
    for group, row in shares.iterrows():
        rows = table[table["writer_group"] == group]
        assert row["images"] == len(rows)
        assert row["writers"] == rows["writer_id"].nunique()
        assert row["share"] == pytest.approx(rows["is_label_issue"].mean())
        assert row["ci_low"] <= row["share"] <= row["ci_high"]
        assert row["ci_low"] < row["ci_high"]


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda t: label_review.review_list(t, split="valid"), ValueError, "split: expected 'train' or 'test'"),
        (lambda t: label_review.review_list(t, top=0), ValueError, "top: expected an integer"),
        (
            lambda t: label_review.review_list(t.drop(columns="label_quality")),
            ValueError,
            r"missing \['label_quality'\]",
        ),
        (lambda t: label_review.review_list(t.to_numpy()), TypeError, "table: expected the per-image table"),
        (lambda t: label_review.review_csv(t), ValueError, r"review: expected the columns of review_list"),
        (lambda t: label_review.flagged_share_by_group(t.drop(columns="writer_id")), ValueError, "writer_id"),
    ],
)
def test_bad_input_is_refused_with_the_parameter_named(call, error, message):
    with pytest.raises(error, match=message):
        call(fake_table())
