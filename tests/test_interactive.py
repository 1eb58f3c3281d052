"""The explorer's Python side: what it sends to the browser, its selection, neighbours and sprites."""

from __future__ import annotations

import base64
import gzip
import io
import json
import re

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from mnist_analysis.interactive import (
    ATLAS_TILES,
    STATIC_ENV,
    explorer,
    pixel_neighbours,
    sprite_sheets,
)
from tests.helpers import with_label_quality


@pytest.fixture(scope="module")
def inputs():
    rng = np.random.default_rng(0)
    n = 60
    frame = pd.DataFrame(
        {
            "split": np.where(np.arange(n) < 40, "train", "test"),
            "index": np.r_[np.arange(40), np.arange(20)],
            "label": rng.integers(0, 10, n),
            "writer_id": rng.integers(0, 8, n),
            "writer_group": rng.choice(["census", "student"], n),
            "ink": rng.normal(size=n).astype(np.float32),
            "is_label_issue": rng.random(n) < 0.2,
        }
    )
    coords = rng.normal(size=(n, 2))
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    return frame, coords, images


def quantised(image):
    """What a thumbnail shows: 16 grey levels, ink dark on white."""
    return 255 - 17 * np.rint(image / 17).astype(int)


def test_sprite_sheets_place_each_image_at_its_tile_in_16_grey_levels():
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, size=(7, 28, 28), dtype=np.uint8)
    sheets = [np.asarray(Image.open(io.BytesIO(s)).convert("L")).astype(int) for s in sprite_sheets(images, tiles=2)]
    assert len(sheets) == 2
    assert sheets[0].shape == (56, 56)
    assert sheets[1].shape == (56, 56)
    for i, image in enumerate(images):
        r, c = divmod(i % 4, 2)
        np.testing.assert_array_equal(sheets[i // 4][r * 28 : (r + 1) * 28, c * 28 : (c + 1) * 28], quantised(image))
    with pytest.raises(ValueError, match="images"):
        sprite_sheets(np.zeros((3, 28, 28)))


def test_pixel_neighbours_are_the_exact_nearest_other_images():
    rng = np.random.default_rng(2)
    images = rng.integers(0, 256, size=(80, 10, 10), dtype=np.uint8)
    found = pixel_neighbours(images, 5, cache=False)
    flat = images.reshape(80, -1).astype(float)
    distances = ((flat[:, None] - flat[None]) ** 2).sum(axis=2)
    np.fill_diagonal(distances, np.inf)
    expected = np.argsort(distances, axis=1, kind="stable")[:, :5]
    assert found.shape == (80, 5)
    assert found.dtype == np.int32
    np.testing.assert_array_equal(np.take_along_axis(distances, found, 1), np.take_along_axis(distances, expected, 1))
    assert not (found == np.arange(80)[:, None]).any()


def test_pixel_neighbours_go_through_the_cache(isolated_cache):
    images = np.random.default_rng(3).integers(0, 256, size=(30, 28, 28), dtype=np.uint8)
    first = pixel_neighbours(images, 3)
    assert any((isolated_cache / "computed" / "explorer").iterdir())
    np.testing.assert_array_equal(pixel_neighbours(images, 3), first)


def payload_of(page: str) -> tuple[dict, list]:
    """What a static page carries outside Bokeh's document: the unpacked gzip of columns and neighbours, the sheets."""
    found = dict(
        re.findall(r'<script type="application/octet-stream" id="mx-payload-[0-9a-f]{16}-(\d)">([^<]*)</script>', page)
    )
    assert sorted(found) == ["0", "1"], sorted(found)
    return gzip.decompress(base64.b64decode(found["0"])), found["1"].split(" ")


def test_the_page_carries_every_point_column_sprite_and_neighbour(inputs):
    frame, coords, images = inputs
    neighbours = pixel_neighbours(images, 4, cache=False)
    ex = explorer(frame, coords, images, neighbours=neighbours, widget=False)
    data = ex.source.data
    assert sorted(data) == ["x", "y"]  # Bokeh carries the map; the payload carries the rest
    np.testing.assert_array_equal(data["x"], coords[:, 0].astype(np.float32))
    np.testing.assert_array_equal(data["y"], coords[:, 1].astype(np.float32))
    page = ex.html()
    packed, sheets = payload_of(page)
    meta = json.loads(ex.source.tags[0])

    def column(dtype, offset, length):
        assert offset % 4 == 0  # a typed array can view it
        return np.frombuffer(packed, dtype=np.dtype(dtype).newbyteorder("<"), count=length, offset=offset)

    assert list(meta["layout"]) == list(frame.columns)
    np.testing.assert_array_equal(column(*meta["layout"]["label"]), frame["label"])
    assert meta["layout"]["label"][0] == "uint8"
    assert meta["layout"]["writer_id"][0] == "uint8"
    np.testing.assert_array_equal(column(*meta["layout"]["ink"]), frame["ink"])
    names = meta["specs"]["split"]["names"]
    assert [names[c] for c in column(*meta["layout"]["split"])] == frame["split"].tolist()
    np.testing.assert_array_equal(column(*meta["neighbours"][:3]).reshape(60, meta["neighbours"][3]), neighbours)
    (sheet,) = [np.asarray(Image.open(io.BytesIO(base64.b64decode(p))).convert("L")).astype(int) for p in sheets]
    for i in (0, 33, 59):
        r, c = divmod(i, ATLAS_TILES)
        np.testing.assert_array_equal(sheet[r * 28 : (r + 1) * 28, c * 28 : (c + 1) * 28], quantised(images[i]))
    assert page.count(f'id="{ex._payload.tags[0]}-0"') == 1
    assert page.count(sheets[0]) == 1


def test_a_widget_carries_the_payload_in_its_document_not_in_a_page(inputs, monkeypatch):
    monkeypatch.delenv(STATIC_ENV, raising=False)
    frame, coords, images = inputs
    ex = explorer(frame, coords, images, neighbours=np.zeros((60, 1), np.int32))
    static_parts = payload_of(ex.html())
    ex._repr_mimebundle_()  # the widget is made
    parts = ex.layout.document.get_model_by_name("mx-payload").data["parts"]
    assert gzip.decompress(base64.b64decode(parts[0])) == static_parts[0]
    assert parts[1:] == static_parts[1]
    assert "application/octet-stream" not in ex.html()  # once in the document, not twice in a page


def test_static_html_is_inline_and_names_no_file(inputs):
    frame, coords, images = inputs
    html = explorer(frame, coords, images, neighbours=np.zeros((60, 1), np.int32), widget=False).html()
    assert re.search(r"<script[^>]*\bsrc\s*=", html, re.IGNORECASE) is None
    assert re.search(r"<link\b", html, re.IGNORECASE) is None
    assert "Bokeh" in html
    assert "mx-map" in html


def test_selection_returns_the_selected_rows_as_a_frame(inputs):
    frame, coords, images = inputs
    ex = explorer(frame, coords, images, neighbours=np.zeros((60, 1), np.int32), widget=False)
    assert ex.selection.empty
    assert list(ex.selection.columns) == list(frame.columns)
    ex.source.selected.indices = [45, 3, 7]  # as the browser reports a box selection
    pd.testing.assert_frame_equal(ex.selection, frame.iloc[[3, 7, 45]])
    ex.select([])
    assert ex.selection.empty
    with pytest.raises(ValueError, match="rows"):
        ex.select([60])


def test_display_is_a_widget_unless_the_report_build_asks_for_html(inputs, monkeypatch):
    frame, coords, images = inputs
    monkeypatch.delenv(STATIC_ENV, raising=False)
    ex = explorer(frame, coords, images, neighbours=np.zeros((60, 1), np.int32))
    bundle = ex._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert "text/html" not in bundle
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == ex.widget.model_id
    monkeypatch.setenv(STATIC_ENV, "1")
    static = explorer(frame, coords, images, neighbours=np.zeros((60, 1), np.int32))._repr_mimebundle_()
    assert "text/html" in static
    assert "application/vnd.jupyter.widget-view+json" not in static


def test_save_writes_a_standalone_page(inputs, tmp_path):
    frame, coords, images = inputs
    ex = explorer(frame, coords, images, neighbours=np.zeros((60, 1), np.int32), widget=False)
    ex.save(tmp_path / "explorer.html")
    text = (tmp_path / "explorer.html").read_text()
    assert text.startswith("<!DOCTYPE html>")
    assert "mx-map" in text


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ({"frame": np.zeros((60, 2))}, TypeError, "frame"),
        ({"coords": np.zeros((60, 3))}, ValueError, "coords"),
        ({"coords": np.full((60, 2), np.nan)}, ValueError, "coords"),
        ({"images": np.zeros((60, 28, 28))}, ValueError, "images"),
        ({"colour_by": "colour"}, ValueError, "colour_by"),
        ({"filters": ["nothing"]}, ValueError, "filters"),
        ({"id_columns": ("split", "position")}, ValueError, "id_columns"),
        ({"neighbours": np.full((60, 2), 60)}, ValueError, "neighbours"),
    ],
)
def test_bad_input_names_the_parameter(inputs, change, error, message):
    frame, coords, images = inputs
    arguments = {
        "frame": frame,
        "coords": coords,
        "images": images,
        "neighbours": np.zeros((60, 1), np.int32),
        "widget": False,
        **change,
    }
    with pytest.raises(error, match=message):
        explorer(**arguments)


def test_neighbours_out_of_range_are_named_with_their_values(inputs):
    frame, coords, images = inputs
    neighbours = np.zeros((60, 2), np.int32)
    neighbours[7, 1], neighbours[9, 0] = 60, -3
    with pytest.raises(
        ValueError, match=r"neighbours: expected row positions 0\.\.59, found \[-3, 60\] in 2 rows \(first: row 7\)"
    ):
        explorer(frame, coords, images, neighbours=neighbours, widget=False)


def test_show_opens_the_saved_page_in_a_browser_and_repr_says_how(inputs, tmp_path, monkeypatch):
    import webbrowser

    frame, coords, images = inputs
    ex = explorer(frame, coords, images, neighbours=np.zeros((60, 1), np.int32), widget=False)
    opened = []
    monkeypatch.setattr(webbrowser, "open", opened.append)
    path = ex.show(tmp_path / "shown.html")
    assert opened == [path.resolve().as_uri()]
    assert "mx-map" in path.read_text()
    assert ".show()" in repr(ex)
    assert ".save(path)" in repr(ex)


def test_the_javascript_is_one_linted_file_loaded_once_per_page(inputs):
    import shutil
    import subprocess

    from bokeh.models import CustomJS

    from mnist_analysis.interactive import browser_code

    code = browser_code()
    lines = code.splitlines()
    assert all(len(line) <= 120 and line == line.rstrip() and "\t" not in line for line in lines)
    assert "var " not in code
    assert "==" not in code.replace("===", "").replace("!==", "")
    node = shutil.which("node")
    if node is not None:  # a syntax check (node is on the project's machines; eslint is not installed)
        checked = subprocess.run(
            [node, "--check", "-"], input=f"(function () {{\n{code}\n}});", capture_output=True, text=True
        )
        assert checked.returncode == 0, checked.stderr
    frame, coords, images = inputs
    ex = explorer(frame, coords, images, neighbours=np.zeros((60, 1), np.int32), widget=False)
    callbacks = list(ex.layout.document.select({"type": CustomJS}))
    assert [c for c in callbacks if c.code == code] == [ex.layout.document.get_model_by_name("mx-library")]
    assert all(len(c.code) < 200 for c in callbacks if c.code != code)
    assert ex.html().count("const meta = JSON.parse(source.tags[0])") == 1


def test_pixel_neighbours_use_the_shared_pca_and_neighbour_search(monkeypatch):
    from mnist_analysis import embeddings, utils

    calls = []
    for module, name in ((utils, "nearest_other_rows"), (embeddings, "fit_pca")):
        original = getattr(module, name)
        monkeypatch.setattr(module, name, lambda *a, _f=original, _n=name, **k: calls.append(_n) or _f(*a, **k))
    images = np.random.default_rng(4).integers(0, 256, size=(40, 8, 8), dtype=np.uint8)
    pixel_neighbours(images, 3, cache=False)
    assert sorted(calls) == ["fit_pca", "nearest_other_rows"]


def test_a_widget_shown_again_shows_the_current_selection(inputs, monkeypatch):
    monkeypatch.delenv(STATIC_ENV, raising=False)
    frame, coords, images = inputs
    ex = explorer(frame, coords, images, neighbours=np.zeros((60, 1), np.int32))
    ex._repr_mimebundle_()
    ex.source.selected.indices = [5, 9]  # as the browser reports a selection
    ex._repr_mimebundle_()
    from bokeh.core.json_encoder import serialize_json

    shown = serialize_json(ex.widget.render_bundle["docs_json"]).replace(" ", "")
    assert '"indices":[5,9]' in shown


def test_notebook_06_columns_are_offered_in_colour_by_cluster_with_a_legend_typicality_with_a_bar(inputs):
    from mnist_analysis.interactive import SHOWN_COLUMNS, explorer_frame

    frame, coords, images = inputs
    rng = np.random.default_rng(5)
    table = frame.assign(**{c: rng.integers(0, 3, 60) for c in SHOWN_COLUMNS if c not in frame.columns}).assign(
        predicted_a=frame["label"], cluster=rng.choice([-1, 0, 1, 11, 2], 60), typicality=rng.random(60)
    )
    shown, _, _ = explorer_frame(table)
    assert list(shown.columns[-3:]) == ["cluster", "typicality", "misclassified"]
    assert list(shown["cluster"].cat.categories) == ["0", "1", "2", "11", "noise"]
    assert (shown["cluster"] == "noise").tolist() == (table["cluster"] == -1).tolist()
    by_cluster = explorer(shown, coords, images, neighbours=np.zeros((60, 1), np.int32), colour_by="cluster")
    assert {"cluster", "typicality"} <= set(by_cluster.layout.select_one({"name": "mx-colour"}).options)
    legend = by_cluster.layout.select_one({"name": "mx-legend"}).text
    assert re.findall(r'data-value="([^"]+)"', legend) == ["0", "1", "2", "11", "noise"]
    assert not by_cluster.layout.select_one({"name": "mx-colour-bar"}).visible
    by_typicality = explorer(shown, coords, images, neighbours=np.zeros((60, 1), np.int32), colour_by="typicality")
    bar = by_typicality.layout.select_one({"name": "mx-colour-bar"})
    assert bar.visible
    assert bar.title == "typicality"
    low, high = np.percentile(table["typicality"].astype(np.float32), [1, 99])
    assert bar.color_mapper.low == pytest.approx(low)
    assert bar.color_mapper.high == pytest.approx(high)
    assert "colour bar" in by_typicality.layout.select_one({"name": "mx-legend"}).text
    # without them, the frame is as before
    assert "cluster" not in explorer_frame(table.drop(columns=["cluster", "typicality"]))[0].columns
    with pytest.raises(ValueError, match=r"table\['cluster'\]"):
        explorer_frame(table.assign(cluster=-2))


# --- the label-review panel: what the page carries for it ------------------------------------


@pytest.fixture(scope="module")
def labelled(inputs):
    """The small frame with the per-image table's label-quality columns (rank over both splits, shuffled)."""
    frame, coords, images = inputs
    table = with_label_quality(frame, seed=11, flipped_share=0.3, shift=1, second_model="svm")
    return table, coords, images


def shipped_review(ex) -> dict | None:
    """The review list as the page carries it: the JSON inside the payload's gzip (None without one)."""
    meta = json.loads(ex.source.tags[0])
    if meta["review"] is None:
        return None
    packed, _ = payload_of(ex.html())
    dtype, offset, length = meta["review"]
    assert dtype == "uint8"
    assert offset % 4 == 0
    return json.loads(packed[offset : offset + length].decode("utf-8"))


def test_the_review_list_is_the_top_test_candidates_in_rank_order(labelled):
    from mnist_analysis.label_review import review_csv

    table, coords, images = labelled
    ex = explorer(table, coords, images, neighbours=np.zeros((60, 1), np.int32), widget=False, review_top=7)
    shipped = shipped_review(ex)
    test = table[table["split"] == "test"].sort_values("label_issue_rank")
    expected_rows = [table.index.get_loc(i) for i in test.index[:7]]
    entries = shipped["entries"]
    assert [e["row"] for e in entries] == expected_rows
    assert [e["rank"] for e in entries] == list(range(1, 8))
    assert {e["split"] for e in entries} == {"test"}
    assert shipped["split"] == "test"
    ranks = table["label_issue_rank"].to_numpy()[expected_rows]
    assert (np.diff(ranks) > 0).all()  # by the table's rank, most likely first
    for entry in entries:
        row = table.iloc[entry["row"]]
        assert entry["index"] == row["index"]
        assert entry["given"] == row["label"]
        assert entry["suggested"] == row["suggested_label"]
        assert entry["score"] == row["label_quality"]
        assert entry["probability"] == row["suggested_probability"]
        assert entry["disagreeing"] == row["disagreeing_models"]
        assert entry["writer_group"] == row["writer_group"]
        assert entry["flagged"] == row["is_label_issue"]
        assert entry["votes"] == {"knn": row["predicted_knn"], "svm": row["predicted_svm"]}
    assert shipped["csv"].splitlines()[0] == "split,index,given,suggested,score,rank"
    assert shipped["csv"] == review_csv(ex.review)
    assert ex.review["row"].tolist() == expected_rows
    panel = ex.layout.document.get_model_by_name("mx-review")
    assert panel is not None
    assert "7 most likely label errors of the test split" in panel.text
    # the panel's data is a list, not a new column per point
    meta = json.loads(ex.source.tags[0])
    assert list(meta["layout"]) == list(table.columns)


def test_the_review_list_defaults_to_100_and_can_come_from_the_train_split(labelled):
    table, coords, images = labelled
    whole = explorer(table, coords, images, neighbours=np.zeros((60, 1), np.int32), widget=False)
    assert len(shipped_review(whole)["entries"]) == 20  # all 20 test digits: fewer than 100
    train = explorer(table, coords, images, neighbours=np.zeros((60, 1), np.int32), widget=False, review_split="train")
    entries = shipped_review(train)["entries"]
    expected = table[table["split"] == "train"].sort_values("label_issue_rank").index
    assert [e["row"] for e in entries] == [table.index.get_loc(i) for i in expected]
    assert {e["split"] for e in entries} == {"train"}


def test_the_review_list_can_come_from_the_per_image_table_beside_a_narrower_frame(labelled):
    table, coords, images = labelled
    shown = table[["split", "index", "label", "writer_id"]].set_axis(table.index + 1000)
    review = table.set_axis(shown.index)
    ex = explorer(shown, coords, images, neighbours=np.zeros((60, 1), np.int32), widget=False, review=review)
    entries = shipped_review(ex)["entries"]
    expected = table[table["split"] == "test"].sort_values("label_issue_rank").index
    assert [e["row"] for e in entries] == [table.index.get_loc(i) for i in expected]
    assert list(json.loads(ex.source.tags[0])["layout"]) == list(shown.columns)
    with pytest.raises(ValueError, match=r"review: expected the same rows as frame"):
        explorer(shown, coords, images, neighbours=np.zeros((60, 1), np.int32), widget=False, review=table)


def test_without_label_quality_columns_there_is_no_review_panel_and_no_error(inputs, labelled):
    frame, coords, images = inputs
    ex = explorer(frame, coords, images, neighbours=np.zeros((60, 1), np.int32), widget=False)
    assert ex.review is None
    assert shipped_review(ex) is None
    assert ex.layout.document.get_model_by_name("mx-review") is None
    assert ex.layout.document.get_model_by_name("mx-library").args["review_div"] is None
    table, _, _ = labelled
    none = explorer(table, coords, images, neighbours=np.zeros((60, 1), np.int32), widget=False, review_top=0)
    assert none.review is None
    assert none.layout.document.get_model_by_name("mx-review") is None


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ({"review_top": -1}, ValueError, r"review_top: expected an integer of at least 0, found -1"),
        ({"review_top": 2.5}, TypeError, r"review_top: expected an integer, found float 2.5"),
        ({"review_split": "validation"}, ValueError, r"review_split: expected one of \['train', 'test'\]"),
        ({"review": np.zeros((60, 3))}, TypeError, r"review: expected a per-image table \(a DataFrame\)"),
    ],
)
def test_bad_review_parameters_are_refused_with_their_name(labelled, change, error, message):
    table, coords, images = labelled
    with pytest.raises(error, match=message):
        explorer(table, coords, images, neighbours=np.zeros((60, 1), np.int32), widget=False, **change)


def test_a_widget_carries_the_review_list_in_its_payload(labelled, monkeypatch):
    monkeypatch.delenv(STATIC_ENV, raising=False)
    table, coords, images = labelled
    ex = explorer(table, coords, images, neighbours=np.zeros((60, 1), np.int32), review_top=3)
    static = shipped_review(ex)
    ex._repr_mimebundle_()
    parts = ex.layout.document.get_model_by_name("mx-payload").data["parts"]
    _, offset, length = json.loads(ex.source.tags[0])["review"]
    packed = gzip.decompress(base64.b64decode(parts[0]))
    assert json.loads(packed[offset : offset + length].decode("utf-8")) == static


def test_verdicts_are_the_review_list_with_what_the_browser_reported(labelled):
    table, coords, images = labelled
    ex = explorer(table, coords, images, neighbours=np.zeros((60, 1), np.int32), widget=False, review_top=5)
    assert ex.verdicts["verdict"].tolist() == [""] * 5
    assert "row" not in ex.verdicts.columns
    panel = ex.layout.document.get_model_by_name("mx-review")
    first, third = ex.review["row"].iloc[0], ex.review["row"].iloc[2]
    panel.tags = [json.dumps({str(first): "wrong", str(third): "ok"})]  # as explorer.js reports them
    verdicts = ex.verdicts
    assert verdicts["verdict"].tolist() == ["wrong", "", "ok", "", ""]
    pd.testing.assert_frame_equal(verdicts.drop(columns=["verdict"]), ex.review.drop(columns=["row"]))
    panel.tags = [json.dumps({str(first): "maybe"})]
    with pytest.raises(ValueError, match=r"review panel's verdicts: expected wrong, ok or unsure per row"):
        _ = ex.verdicts
    frame = table[["split", "index", "label"]]
    assert explorer(frame, coords, images, neighbours=np.zeros((60, 1), np.int32), widget=False).verdicts is None
