"""The dataset-card audit on synthetic frames built to match, or break, each claim."""

import numpy as np
import pandas as pd
import pytest

from mnist_analysis.card_audit import CLAIMS, COLUMNS, VERDICTS, audit_dataset_card


def card_frame():
    """70,000 rows exactly as the card and the MNIST page describe them.

    Train: 30,000 census then 30,000 student digits, 6,000 per class, 250 writers.
    Test: first 5,000 census, last 5,000 student, 1,000 per class, writers unseen in training.
    """
    parts = []
    for split, n, writer_offset, writer_size in (("train", 60_000, 0, 240), ("test", 10_000, 10_000, 100)):
        index = np.arange(n)
        group = np.where(index < n // 2, "census", "student")
        parts.append(
            pd.DataFrame(
                {
                    "split": split,
                    "index": index,
                    "label": index % 10,
                    "writer_id": writer_offset + index // writer_size,
                    "writer_group": pd.Categorical(group, categories=["census", "student"]),
                }
            )
        )
    frame = pd.concat(parts, ignore_index=True)
    frame["split"] = pd.Categorical(frame["split"], categories=["train", "test"])
    return frame


@pytest.fixture(scope="module")
def frame():
    return card_frame()


def centred_measurements(rows):
    return pd.DataFrame({"bbox_height": 20, "bbox_width": 14, "com_row": 13.6, "com_col": 13.9}, index=rows.index)


def predictions_with_errors(frame, census_rate, student_rate, seed=0):
    """Predictions of the test rows, wrong with a given probability per group."""
    rng = np.random.default_rng(seed)
    test = frame[frame["split"] == "test"]
    rate = np.where(test["writer_group"] == "census", census_rate, student_rate)
    wrong = rng.random(len(test)) < rate
    return pd.Series(np.where(wrong, (test["label"] + 1) % 10, test["label"]), index=test.index)


def test_one_row_per_claim_with_a_verdict(frame):
    audit = audit_dataset_card(frame)
    assert audit.index.tolist() == [claim.id for claim in CLAIMS]
    assert audit.columns.tolist() == list(COLUMNS)
    assert audit["verdict"].isin(VERDICTS).all()
    assert (audit["evidence"].str.len() > 0).all()
    assert (audit["source"].str.len() > 0).all()


def test_claims_without_their_inputs_are_not_measured_rather_than_guessed(frame):
    audit = audit_dataset_card(frame)
    needing = {claim.id for claim in CLAIMS if claim.needs}
    assert needing == {"census_easier", "box_20x20", "centre_of_mass", "first_5000_easier"}
    assert (audit.loc[sorted(needing), "verdict"] == "not measured").all()
    assert (audit.loc[sorted(needing), "measured"] == "").all()


def test_a_frame_built_to_the_card_passes_every_claim(frame):
    predictions = predictions_with_errors(frame, census_rate=0.01, student_rate=0.10)
    audit = audit_dataset_card(frame, centred_measurements(frame.sample(3000, random_state=0)), predictions, n_boot=300)
    not_holding = audit.loc[audit["verdict"] != "holds", "verdict"].to_dict()
    # 60,000 digits by 250 writers of 240 digits: the page's "approximately 250" holds exactly
    assert not_holding == {}


def test_the_real_data_pattern_is_called_approximate_or_contradicted(frame):
    moved = frame.copy()
    train = np.flatnonzero(moved["split"] == "train")
    moved.loc[train[30_000:30_950], "writer_group"] = "census"  # 30,950 census / 29,050 student
    test = np.flatnonzero(moved["split"] == "test")
    moved.loc[test, "writer_group"] = np.where(moved.loc[test, "index"] < 5000, "student", "census")
    moved.loc[test[0], "writer_id"] = 0  # one writer in both splits
    audit = audit_dataset_card(moved)
    assert audit.loc["train_30k_30k", "verdict"] == "approximately"
    assert audit.loc["train_30k_30k", "measured"] == "30,950 + 29,050"
    assert audit.loc["first_5000_from_sd3", "verdict"] == "contradicted"
    assert audit.loc["disjoint_writers", "verdict"] == "contradicted"
    assert audit.loc["test_5k_5k", "verdict"] == "holds"


def test_counts_far_off_are_contradicted(frame):
    fewer_ones = frame[~((frame["label"] == 1) & (frame["index"] % 3 == 0))]
    audit = audit_dataset_card(fewer_ones)
    assert audit.loc["total_images", "verdict"] == "contradicted"
    assert audit.loc["images_per_class", "verdict"] == "contradicted"  # digit 1 is a third short
    assert "digit 1" in audit.loc["images_per_class", "evidence"]


def test_easier_claims_follow_the_error_rates(frame):
    reversed_difficulty = predictions_with_errors(frame, census_rate=0.10, student_rate=0.01)
    audit = audit_dataset_card(frame, predictions=reversed_difficulty, n_boot=300)
    assert audit.loc["census_easier", "verdict"] == "contradicted"
    assert audit.loc["first_5000_easier", "verdict"] == "contradicted"  # the first 5,000 are census here
    same = predictions_with_errors(frame, census_rate=0.0, student_rate=0.0)
    same.iloc[-1] = (same.iloc[-1] + 1) % 10  # a single student error: right direction, not distinguishable
    audit = audit_dataset_card(frame, predictions=same, n_boot=300)
    assert audit.loc["census_easier", "verdict"] == "approximately"


def test_digits_outside_the_box_or_off_centre_are_caught(frame):
    rows = frame.sample(1000, random_state=1)
    measurements = centred_measurements(rows)
    measurements.iloc[:50, measurements.columns.get_loc("bbox_width")] = 24  # 5 % too wide
    measurements.iloc[:200, measurements.columns.get_loc("com_col")] = 16.0  # 20 % off centre
    audit = audit_dataset_card(frame, measurements)
    assert audit.loc["box_20x20", "verdict"] == "approximately"
    assert audit.loc["centre_of_mass", "verdict"] == "contradicted"


def test_bad_inputs_are_refused_with_the_parameter_named(frame):
    with pytest.raises(ValueError, match="predictions"):
        audit_dataset_card(frame, predictions=pd.Series([1], index=[10**9]))
    with pytest.raises(ValueError, match="measurements: missing columns"):
        audit_dataset_card(frame, pd.DataFrame({"ink": [1.0]}, index=[0]))
    with pytest.raises(ValueError, match="frame: missing columns"):
        audit_dataset_card(frame.drop(columns="writer_id"))
    with pytest.raises(ValueError, match="count_tolerance"):
        audit_dataset_card(frame, count_tolerance=2)
