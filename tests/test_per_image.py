"""The per-image table: one row per image, the documented columns, no silent gaps, round trips."""

import numpy as np
import pandas as pd
import pytest

from mnist_analysis import clusters, per_image, substyles, typicality
from mnist_analysis.embeddings import fit_pca
from mnist_analysis.measurements import COLUMNS as MEASUREMENT_COLUMNS
from mnist_analysis.measurements import measure
from mnist_analysis.morphometrics import COLUMNS as MORPHO_COLUMNS
from mnist_analysis.morphometrics import morphometrics

N = 240
FLIPPED = [7, 100, 201]


@pytest.fixture(scope="module")
def digits():
    """Synthetic digits whose class is the position of a band, with provenance like load_frame's."""
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(4), N // 4)
    images = rng.integers(0, 40, size=(N, 28, 28)).astype(np.uint8)
    for k in range(4):
        images[labels == k, 3 + 6 * k : 8 + 6 * k, 5:23] = 250
    given = labels.copy()
    given[FLIPPED] = (labels[FLIPPED] + 1) % 4
    split = np.where(np.arange(N) % 6 == 0, "test", "train")
    frame = pd.DataFrame(
        {
            "split": pd.Categorical(split, categories=["train", "test"]),
            "index": np.arange(N) * 3,
            "label": given,
            "hsf_series": np.where(np.arange(N) % 2, 4, 0),
            "writer_id": np.arange(N) // 5,
            "writer_group": pd.Categorical(
                np.where(np.arange(N) % 2, "student", "census"), categories=["census", "student"]
            ),
            "writer_digit_index": np.arange(N) % 5,
            "nist_index": 1000 + np.arange(N),
        },
        index=np.arange(N) * 2,
    )  # like a sample: positions in the full stack, not 0..n-1
    return frame, images, labels


@pytest.fixture(scope="module")
def table(digits, tmp_path_factory):
    frame, images, _ = digits
    return per_image.per_image_table(frame, images, n_splits=3, seed=0, cache=False)


@pytest.mark.slow
def test_one_row_per_image_in_frame_order_with_the_documented_columns(digits, table):
    frame, _, _ = digits
    assert len(table) == len(frame)
    assert list(table.columns) == list(per_image.COLUMNS)
    assert isinstance(table.index, pd.RangeIndex)
    for column in ("split", "index", "label", "writer_id", "writer_group", "nist_index"):
        np.testing.assert_array_equal(table[column].to_numpy(), frame[column].to_numpy())


def test_every_column_is_described_and_the_measurements_are_all_there():
    assert all(isinstance(text, str) and len(text) > 10 for text in per_image.COLUMNS.values())
    assert set(MEASUREMENT_COLUMNS) <= set(per_image.COLUMNS)
    assert {f"morpho_{c}" for c in MORPHO_COLUMNS} <= set(per_image.COLUMNS)
    assert set(MEASUREMENT_COLUMNS) | {f"morpho_{c}" for c in MORPHO_COLUMNS} >= per_image.NULLABLE
    assert all("original pixels" in per_image.COLUMNS[f"morpho_{c}"] for c in MORPHO_COLUMNS if c != "slant")
    assert "radians" in per_image.COLUMNS["morpho_slant"]
    markdown = per_image.columns_markdown()
    assert all(f"`{name}`" in markdown for name in per_image.COLUMNS)


def test_no_missing_values(table):
    assert not table.isna().any().any()


def test_values_come_from_the_package_helpers(digits, table):
    _, images, labels = digits
    expected = measure(images, cache=False)
    pd.testing.assert_frame_equal(table[list(MEASUREMENT_COLUMNS)], expected, check_dtype=False)
    morpho = table[[f"morpho_{c}" for c in MORPHO_COLUMNS]].rename(columns=lambda c: c.removeprefix("morpho_"))
    pd.testing.assert_frame_equal(morpho, morphometrics(images, cache=False))
    assert table["is_label_issue"].dtype == bool
    assert table["is_label_issue"].sum() <= len(FLIPPED)
    np.testing.assert_array_equal(table.loc[FLIPPED, "suggested_label"], labels[FLIPPED])
    assert set(table.sort_values("label_issue_rank").index[: len(FLIPPED)]) == set(FLIPPED)
    assert sorted(table["outlier_rank"]) == list(range(1, N + 1))
    assert table.loc[table["outlier_rank"] == 1, "outlier_score"].item() == table["outlier_score"].max()
    assert (table["predicted_knn"] == labels).mean() > 0.95


@pytest.mark.slow
def test_digit_space_columns_are_notebook_06s_with_clear_dtypes(digits, table):
    frame, images, _labels = digits
    given = frame["label"].to_numpy()
    assert table["cluster"].dtype == np.int64
    assert table["typicality"].dtype == np.float64
    found, _ = clusters.cluster_digits(images, seed=0, cache=False)
    np.testing.assert_array_equal(table["cluster"], found)
    # four bands, each a quarter of the stack: above the cap of a seventh, so no band may be one cluster
    assert (table["cluster"] == -1).all()
    np.testing.assert_array_equal(table["typicality"], typicality.image_typicality(images, given, cache=False))
    assert ((table["typicality"] > 0) & (table["typicality"] <= 1)).all()
    for row in FLIPPED:  # a band of another class is the least typical digit of the class it is labelled
        assert table.loc[row, "typicality"] == table.loc[given == given[row], "typicality"].min()
    scores = fit_pca(images, per_image.SUBSTYLE_COMPONENTS, seed=0, cache=False).transform(images)
    styles, _ = substyles.substyles(scores, given, seed=0, cache=False)
    assert table["substyle"].tolist() == substyles.style_names(given, styles).tolist()
    assert all(name.split(".")[0] == str(label) for name, label in zip(table["substyle"], given))


def test_parquet_and_csv_round_trip_exactly(table, tmp_path):
    paths = per_image.write_table(table, tmp_path / "export")
    assert {p.name for p in paths.values()} == {"mnist_per_image.parquet", "mnist_per_image.csv"}
    pd.testing.assert_frame_equal(per_image.read_table(paths["parquet"]), table)
    pd.testing.assert_frame_equal(per_image.read_table(paths["csv"]), table)
    assert sorted(p.name for p in (tmp_path / "export").iterdir()) == sorted(p.name for p in paths.values())


def test_writing_again_replaces_the_files(table, tmp_path):
    per_image.write_table(table.head(3), tmp_path)
    paths = per_image.write_table(table.head(5), tmp_path)
    assert len(per_image.read_table(paths["csv"])) == 5
    assert len(list(tmp_path.iterdir())) == 2


def test_a_failed_write_leaves_no_partial_file(table, tmp_path, monkeypatch):
    def broken(self, path, **kwargs):
        with open(path, "w") as handle:
            handle.write("half a file")
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", broken)
    with pytest.raises(OSError, match="disk full"):
        per_image.write_table(table, tmp_path)
    assert list(tmp_path.iterdir()) == []  # both files or neither: the Parquet waits for the CSV


def test_missing_values_are_refused_outside_the_nullable_columns(table):
    gappy = table.copy()
    gappy.loc[3, "outlier_score"] = np.nan
    with pytest.raises(ValueError, match=r"missing values in columns that must be complete: \['outlier_score'\]"):
        per_image.check_table(gappy)
    undefined = table.copy()
    undefined.loc[3, "slant_deg"] = np.nan
    assert per_image.check_table(undefined) is undefined


def test_undocumented_or_missing_columns_are_refused(table):
    with pytest.raises(ValueError, match="unexpected \\['extra'\\]"):
        per_image.check_table(table.assign(extra=1))
    with pytest.raises(ValueError, match="missing \\['label'\\]"):
        per_image.check_table(table.drop(columns="label"))


def test_bad_input_is_refused(digits):
    frame, images, _ = digits
    with pytest.raises(ValueError, match="images: expected one"):
        per_image.per_image_table(frame, images[:-1], cache=False)
    with pytest.raises(ValueError, match="frame: expected the columns"):
        per_image.per_image_table(frame.drop(columns="writer_id"), images, cache=False)
    with pytest.raises(TypeError, match="frame: expected a pandas DataFrame"):
        per_image.per_image_table(images, images, cache=False)
    with pytest.raises(ValueError, match=r"path: expected a .parquet or .csv"):
        per_image.read_table("table.xlsx")


@pytest.mark.realdata
@pytest.mark.slow
def test_export_of_a_real_sample_round_trips(real_data, tmp_path):
    paths = per_image.export_table(tmp_path, sample_size=300, seed=0, data_dir=real_data)
    table = per_image.read_table(paths["parquet"])
    assert len(table) == 300
    assert list(table.columns) == list(per_image.COLUMNS)
    assert not table.duplicated(["split", "index"]).any()
    assert not table.isna().any().any()
    assert 2.0 < table["morpho_thickness"].median() < 3.5
    assert 80 < table["morpho_area"].median() < 130
    pd.testing.assert_frame_equal(per_image.read_table(paths["csv"]), table)
