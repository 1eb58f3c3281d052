"""Plot helpers draw what they are given, on the Axes they are given, and return it."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from mnist_analysis.plotting import (
    class_distributions,
    class_images,
    class_pixel_images,
    label_class_medians,
    map_scatter,
    paired_grid,
    pixel_map,
    plot_intervals,
)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def labelled_images():
    images = np.zeros((6, 28, 28), dtype=np.uint8)
    images[0:2, 5:10, 5:10] = 255  # class 3: a square in both images
    images[2, 20:25, :] = 100  # class 7: a stripe in one of its two images
    images[4:6, 0, 0] = [10, 30]  # class 9
    return images, np.array([3, 3, 7, 7, 9, 9])


def test_class_pixel_images_computes_per_class_mean_and_std():
    images, labels = labelled_images()
    classes, means = class_pixel_images(images, labels)
    assert classes.tolist() == [3, 7, 9]
    assert means[0, 7, 7] == 255
    assert means[1, 22, 0] == 50
    assert means[2, 0, 0] == 20
    _, stds = class_pixel_images(images, labels, statistic="std")
    assert stds[0, 7, 7] == 0
    assert stds[1, 22, 0] == 50
    assert stds[2, 0, 0] == 10


def test_class_images_draws_one_tile_per_class_on_the_given_axes():
    images, labels = labelled_images()
    _, ax = plt.subplots()
    assert class_images(images, labels, ax=ax) is ax
    assert [t.get_text() for t in ax.texts] == ["3", "7", "9"]
    shown = ax.get_images()[0].get_array()
    assert shown.shape == (28, 3 * 28 + 2 * 2)
    assert shown[7, 7] == 255
    assert shown[22, 30 + 0] == 50
    assert ax.get_title() == "Per-class mean image"


def test_pixel_map_adds_a_labelled_colour_bar():
    values = np.arange(784.0).reshape(28, 28)
    ax = pixel_map(values, title="variance", colorbar_label="grey levels squared")
    np.testing.assert_array_equal(ax.get_images()[0].get_array(), values)
    assert ax.figure.axes[1].get_ylabel() == "grey levels squared"
    assert (ax.get_title(), ax.get_xlabel(), ax.get_ylabel()) == ("variance", "column", "row")


def test_class_distributions_draws_one_box_per_class_and_hue():
    frame = pd.DataFrame(
        {
            "label": np.repeat([0, 1, 2], 20),
            "split": np.tile(["train", "test"], 30),
            "ink": np.random.default_rng(0).normal(size=60),
        }
    )
    _, ax = plt.subplots()
    assert class_distributions(frame, "ink", hue="split", ax=ax) is ax
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "1", "2"]
    assert {t.get_text() for t in ax.get_legend().get_texts()} == {"train", "test"}
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == ("label", "ink", "ink by label")


def test_class_distributions_rejects_unknown_columns_and_kinds():
    frame = pd.DataFrame({"label": [0, 1], "ink": [1.0, 2.0]})
    with pytest.raises(ValueError, match="frame: expected columns \\['area'\\]"):
        class_distributions(frame, "area")
    with pytest.raises(ValueError, match="kind"):
        class_distributions(frame, "ink", kind="pie")


def test_paired_grid_puts_each_second_image_under_its_first():
    first = np.zeros((3, 28, 28), dtype=np.uint8)
    second = np.zeros((3, 28, 28), dtype=np.uint8)
    first[:, 0, 0] = [10, 20, 30]
    second[:, 0, 0] = [11, 21, 31]
    ax = paired_grid(first, second, labels=["a", "b", "c"], ncols=2, title="pairs")
    canvas = ax.get_images()[0].get_array()
    step = 28 + 2
    # Band 0: pairs a, b side by side (first row above second row); band 1: pair c.
    assert [canvas[0, 0], canvas[0, step], canvas[step, 0], canvas[step, step]] == [10, 20, 11, 21]
    assert [canvas[2 * step, 0], canvas[3 * step, 0]] == [30, 31]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["before", "after", "before", "after"]
    assert ax.get_title() == "pairs"


def test_paired_grid_rejects_mismatched_pairs():
    with pytest.raises(ValueError, match="first, second"):
        paired_grid(np.zeros((2, 28, 28)), np.zeros((3, 28, 28)))
    with pytest.raises(ValueError, match="labels"):
        paired_grid(np.zeros((2, 28, 28)), np.zeros((2, 28, 28)), labels=["only one"])


def test_helpers_never_show(monkeypatch):
    monkeypatch.setattr(plt, "show", lambda *a, **k: pytest.fail("plt.show() was called"))
    images, labels = labelled_images()
    class_images(images, labels, statistic="std")
    pixel_map(images[0])
    paired_grid(images, images)
    class_distributions(pd.DataFrame({"label": labels, "v": labels * 1.0}), "v", kind="violin")
    map_scatter(np.zeros((6, 2)), labels)


def test_image_helpers_draw_no_grid_lines_even_under_a_grid_style():
    images, labels = labelled_images()
    with plt.rc_context({"axes.grid": True}):
        axes = [class_images(images, labels), pixel_map(images[0]), paired_grid(images, images)]
    for ax in axes:
        assert not any(line.get_visible() for line in ax.get_xgridlines() + ax.get_ygridlines())


def test_map_scatter_colours_each_point_by_its_value_and_lists_every_value():
    coordinates = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0], [3.0, 3.0]])
    values = np.array(["student", "census", "student", "census"])
    palette = {"census": (1.0, 0.0, 0.0), "student": (0.0, 0.0, 1.0)}
    _fig, ax = plt.subplots()
    assert map_scatter(coordinates, values, ax=ax, palette=palette, seed=1) is ax
    points = ax.collections[0]
    for xy, colour in zip(points.get_offsets(), points.get_facecolors()):
        expected = palette["census" if int(xy[0]) % 2 else "student"]
        assert tuple(colour[:3]) == expected
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["census", "student"]


def test_map_scatter_names_the_bad_parameter():
    with pytest.raises(ValueError, match="coordinates: expected an array of shape"):
        map_scatter(np.zeros((3, 3)), np.zeros(3))
    with pytest.raises(ValueError, match="values: expected one value per point"):
        map_scatter(np.zeros((3, 2)), np.zeros(4))
    with pytest.raises(ValueError, match=r"palette: expected a colour for every value, missing \[2\]"):
        map_scatter(np.zeros((3, 2)), np.array([0, 1, 2]), palette={0: "red", 1: "blue"})


def test_plot_intervals_draws_each_row_with_its_interval_top_down_on_the_given_axes():
    _, ax = plt.subplots()
    estimates = pd.Series([0.02, 0.05, 0.01], index=["svm", "knn", "cnn"])
    returned = plot_intervals(estimates, [0.01, 0.04, 0.005], [0.03, 0.07, 0.02], ax=ax, scale=100, offset=0.2)
    assert returned is ax
    assert {t.get_text(): y for t, y in zip(ax.get_yticklabels(), ax.get_yticks())} == {"svm": 2, "knn": 1, "cnn": 0}
    dots = ax.lines[0]
    assert np.allclose(dots.get_xdata(), [2, 5, 1])
    assert np.allclose(dots.get_ydata(), [2.2, 1.2, 0.2])
    bars = ax.collections[0].get_segments()
    assert [tuple(np.round(b[:, 0], 6)) for b in bars] == [(1, 3), (4, 7), (0.5, 2)]


def test_plot_intervals_refuses_intervals_that_do_not_hold_their_estimate():
    with pytest.raises(ValueError, match=r"low <= estimate <= high.*'b'"):
        plot_intervals([1.0, 2.0], [0.5, 2.5], [1.5, 3.0], labels=["a", "b"])
    with pytest.raises(ValueError, match=r"high: expected 2 values \(one per row\), found 3"):
        plot_intervals([1.0, 2.0], [0.5, 1.5], [1.5, 2.5, 3.5], labels=["a", "b"])
    with pytest.raises(ValueError, match="labels: expected row names"):
        plot_intervals([1.0], [0.5], [1.5])


def test_label_class_medians_writes_each_class_at_its_median():
    _, ax = plt.subplots()
    coordinates = np.array([[0, 0], [1, 1], [100, 100], [5, 5], [7, 9]])  # a far-flung 3 leaves the median alone
    assert label_class_medians(coordinates, np.array([3, 3, 3, 8, 8]), ax=ax) is ax
    assert [(t.get_text(), *t.get_position()) for t in ax.texts] == [("3", 1, 1), ("8", 6, 7)]
    with pytest.raises(ValueError, match=r"labels: expected one label per point"):
        label_class_medians(coordinates, np.array([3, 8]))
