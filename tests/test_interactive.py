"""The interactive scatter is self-contained HTML that carries its points and images."""

from __future__ import annotations

import base64
import io
import json
import re

import numpy as np
import pytest
from PIL import Image

from mnist_analysis.interactive import ATLAS_TILES, interactive_scatter


@pytest.fixture(scope="module")
def inputs():
    rng = np.random.default_rng(0)
    n = 50
    embedding = rng.normal(size=(n, 2))
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n)
    split = np.where(np.arange(n) < 40, "train", "test")
    return embedding, images, labels, split


def payload(html: str) -> dict:
    match = re.search(r'<script type="application/json" class="mx-scatter-data">(.*?)</script>', html, re.DOTALL)
    assert match is not None
    return json.loads(match.group(1))


def decode(text: str, dtype) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype=dtype)


def test_html_loads_nothing_from_the_network(inputs):
    embedding, images, labels, split = inputs
    html = interactive_scatter(embedding, images, {"label": labels, "split": split}).html
    assert re.search(r"<script[^>]*\bsrc\s*=", html, re.IGNORECASE) is None
    assert re.search(r"https?://", html) is None
    assert re.search(r"<link\b", html, re.IGNORECASE) is None
    assert "getContext" in html


def test_html_carries_coordinates_fields_and_images(inputs):
    embedding, images, labels, split = inputs
    figure = interactive_scatter(embedding, images, {"label": labels, "split": split}, colour_by="split", title="t")
    data = payload(figure.html)
    rows = decode(data["rows"], "<u4")
    np.testing.assert_array_equal(np.sort(rows), np.arange(50))
    np.testing.assert_array_equal(rows, figure.rows)
    np.testing.assert_array_equal(decode(data["x"], "<f4"), embedding[rows, 0].astype(np.float32))
    np.testing.assert_array_equal(decode(data["y"], "<f4"), embedding[rows, 1].astype(np.float32))
    label_field, split_field = data["fields"]
    assert (label_field["name"], split_field["name"], data["colour_by"]) == ("label", "split", "split")
    decoded_labels = np.array(label_field["names"])[decode(label_field["codes"], np.uint8)]
    np.testing.assert_array_equal(decoded_labels, labels[rows].astype(str))
    decoded_split = np.array(split_field["names"])[decode(split_field["codes"], np.uint8)]
    np.testing.assert_array_equal(decoded_split, split[rows])
    (sheet,) = [np.asarray(Image.open(io.BytesIO(base64.b64decode(s)))) for s in data["sheets"]]
    for position in (0, 7, 49):
        r, c = divmod(position, ATLAS_TILES)
        tile = sheet[r * 28:(r + 1) * 28, c * 28:(c + 1) * 28]
        np.testing.assert_array_equal(255 - tile, images[rows[position]])


def test_max_points_draws_a_seeded_sample(inputs):
    embedding, images, labels, _ = inputs
    first = interactive_scatter(embedding, images, {"label": labels}, max_points=20, seed=1)
    again = interactive_scatter(embedding, images, {"label": labels}, max_points=20, seed=1)
    assert len(first.rows) == len(set(first.rows.tolist())) == 20
    np.testing.assert_array_equal(first.rows, again.rows)
    assert len(decode(payload(first.html)["x"], "<f4")) == 20


def test_points_without_coordinates_are_left_out(inputs):
    embedding, images, labels, _ = inputs
    partial = embedding.copy()
    partial[:10] = np.nan
    figure = interactive_scatter(partial, images, {"label": labels})
    assert sorted(figure.rows.tolist()) == list(range(10, 50))


def test_two_figures_get_distinct_ids_and_the_page_saves(inputs, tmp_path):
    embedding, images, labels, _ = inputs
    ids = [re.search(r'id="([^"]+)"', interactive_scatter(embedding, images, {"label": labels}).html).group(1)
           for _ in range(2)]
    assert ids[0] != ids[1]
    figure = interactive_scatter(embedding, images, {"label": labels})
    figure.save(tmp_path / "scatter.html")
    assert figure.html in (tmp_path / "scatter.html").read_text()
    assert figure._repr_html_() == figure.html
    assert len(repr(figure)) < 100


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"embedding": np.zeros((50, 3))}, "embedding"),
        ({"images": np.zeros((50, 28, 28))}, "images"),
        ({"fields": {}}, "fields"),
        ({"fields": {"label": np.zeros(3)}}, "label"),
        ({"colour_by": "writer"}, "colour_by"),
    ],
)
def test_bad_input_names_the_parameter(inputs, change, message):
    embedding, images, labels, _ = inputs
    arguments = {"embedding": embedding, "images": images, "fields": {"label": labels}, **change}
    with pytest.raises(ValueError, match=message):
        interactive_scatter(**arguments)
