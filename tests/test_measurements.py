"""Measurements on synthetic shapes whose answers are known by construction."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import ndimage as ndi

from mnist_analysis import measurements as m


def blank(n=1):
    return np.zeros((n, 28, 28), dtype=np.uint8)


def rectangle(top, left, height, width, value=255):
    image = blank()
    image[0, top : top + height, left : left + width] = value
    return image


def sheared_bar(angle_deg, *, width=3.0, top=4, bottom=24, oversample=8):
    """A bar leaning forward by ``angle_deg`` (top to the right), anti-aliased by oversampling."""
    size = 28 * oversample
    rows = (np.arange(size) + 0.5) / oversample - 0.5
    cols = (np.arange(size) + 0.5) / oversample - 0.5
    r, c = np.meshgrid(rows, cols, indexing="ij")
    centre = 13.5 - np.tan(np.radians(angle_deg)) * (r - 13.5)
    inside = (np.abs(c - centre) <= width / 2) & (r >= top - 0.5) & (r < bottom - 0.5)
    coverage = inside.reshape(28, oversample, 28, oversample).mean(axis=(1, 3))
    return np.rint(255 * coverage).astype(np.uint8)[None]


def ring(centre=(13.5, 13.5), outer=8.0, inner=4.0):
    r, c = np.mgrid[0:28, 0:28]
    radius = np.hypot(r - centre[0], c - centre[1])
    return ((radius <= outer) & (radius >= inner)).astype(np.uint8)[None] * 255


def test_measure_returns_documented_columns_one_row_per_image():
    images = np.concatenate([rectangle(3, 3, 4, 4), rectangle(10, 10, 5, 2)])
    frame = m.measure(images, cache=False)
    assert list(frame.columns) == list(m.COLUMNS)
    assert isinstance(frame.index, pd.RangeIndex)
    assert len(frame) == 2


def test_filled_rectangle_area_box_centre_and_ink():
    row = m.measure(rectangle(5, 7, 10, 6), cache=False).iloc[0]
    assert row["area"] == 60
    assert row["ink"] == pytest.approx(60.0)
    assert (row["bbox_top"], row["bbox_left"], row["bbox_height"], row["bbox_width"]) == (5, 7, 10, 6)
    assert row["com_row"] == pytest.approx(5 + 4.5)
    assert row["com_col"] == pytest.approx(7 + 2.5)
    assert row["var_row"] == pytest.approx((10**2 - 1) / 12)  # variance of a discrete uniform
    assert row["var_col"] == pytest.approx((6**2 - 1) / 12)
    assert row["slant_deg"] == pytest.approx(0.0, abs=1e-9)
    assert row["components"] == 1
    assert row["holes"] == 0


def test_area_counts_pixels_from_the_threshold_but_box_counts_any_grey():
    image = rectangle(5, 5, 4, 4, value=200)
    image[0, 20, 20] = 10  # faint pixel: in the box, not in the inked area
    row = m.measure(image, cache=False).iloc[0]
    assert row["area"] == 16
    assert (row["bbox_height"], row["bbox_width"]) == (16, 16)
    assert m.measure(image, threshold=201, cache=False).iloc[0]["area"] == 0


@pytest.mark.parametrize("width", [1, 2, 3, 4, 5, 6, 7])
def test_vertical_bar_of_width_w_has_thickness_close_to_w(width):
    row = m.measure(rectangle(4, 10, 20, width), cache=False).iloc[0]
    assert width - 1.2 <= row["thickness"] <= width


def test_thickness_is_exact_on_a_ring_free_of_stroke_ends():
    # Away from stroke ends, an odd width measures exactly: a 3-pixel frame has no ends.
    frame = rectangle(4, 4, 20, 20)
    frame[0, 7:21, 7:21] = 0
    assert m.measure(frame, cache=False).iloc[0]["thickness"] == pytest.approx(3.0)


def test_thicker_bars_measure_thicker():
    thickness = [m.measure(rectangle(4, 10, 20, w), cache=False).iloc[0]["thickness"] for w in (1, 3, 5, 7)]
    assert np.all(np.diff(thickness) > 1.5)


@pytest.mark.parametrize("width", [1, 3, 5])
def test_bar_stroke_length_is_close_to_its_length(width):
    row = m.measure(rectangle(4, 10, 20, width), cache=False).iloc[0]
    assert 20 - width - 1 <= row["length"] <= 20


def test_diagonal_line_length_counts_diagonal_steps_as_root_two():
    image = blank()
    for k in range(15):
        image[0, 5 + k, 5 + k] = 255
    assert m.measure(image, cache=False).iloc[0]["length"] == pytest.approx(14 * np.sqrt(2))


@pytest.mark.parametrize("angle", [-30.0, -15.0, 15.0, 30.0])
def test_sheared_bar_measures_its_slant_and_deskewing_makes_it_upright(angle):
    bar = sheared_bar(angle)
    assert m.measure(bar, cache=False).iloc[0]["slant_deg"] == pytest.approx(angle, abs=1.0)
    upright = m.deskew(bar)
    assert upright.shape == bar.shape
    assert upright.dtype == np.uint8
    assert abs(m.slant_angles(upright)[0]) < 1.0
    # Upright: the ink of every row is centred on the same column.
    weights = upright[0].astype(float)
    inked_rows = weights.sum(axis=1) > 0
    row_centres = (weights[inked_rows] @ np.arange(28)) / weights[inked_rows].sum(axis=1)
    assert np.ptp(row_centres) < 1.0
    # The slanted bar itself is far from upright.
    original = bar[0].astype(float)
    original_centres = (original[inked_rows] @ np.arange(28)) / original[inked_rows].sum(axis=1)
    assert np.ptp(original_centres) > 5.0


def test_positive_slant_means_leaning_forward():
    forward = blank()
    for r in range(4, 24):
        forward[0, r, 20 - (r - 4) // 2] = 255  # the top is further right than the bottom
    assert m.slant_angles(forward)[0] > 10


def test_deskew_keeps_the_centre_of_mass_row_and_upright_digits_unchanged():
    bar = rectangle(4, 12, 20, 3)
    np.testing.assert_array_equal(m.deskew(bar), bar)
    slanted = sheared_bar(20.0)
    before = m.measure(slanted, cache=False).iloc[0]
    after = m.measure(m.deskew(slanted), cache=False).iloc[0]
    assert after["com_row"] == pytest.approx(before["com_row"], abs=0.05)
    assert after["ink"] == pytest.approx(before["ink"], rel=0.02)


def test_deskew_on_floats_returns_floats():
    bar = sheared_bar(25.0).astype(np.float32)
    out = m.deskew(bar)
    assert out.dtype == np.float32
    assert abs(m.slant_angles(out)[0]) < 1.0


def test_ring_has_one_hole_two_rings_two_a_disk_none():
    assert m.measure(ring(), cache=False).iloc[0][["holes", "components"]].tolist() == [1, 1]
    eight = np.maximum(ring((9, 13.5), 5, 2.5), ring((18, 13.5), 5, 2.5))
    assert m.measure(eight, cache=False).iloc[0][["holes", "components"]].tolist() == [2, 1]
    disk = ring(inner=0)
    assert m.measure(disk, cache=False).iloc[0]["holes"] == 0


def test_hole_open_to_the_border_is_not_a_hole():
    u_shape = rectangle(5, 5, 15, 12)
    u_shape[0, 0:15, 9:13] = 0  # a slot from the top edge down into the rectangle
    assert m.measure(u_shape, cache=False).iloc[0]["holes"] == 0


def test_components_use_eight_connectivity_and_never_join_across_images():
    two = np.maximum(rectangle(2, 2, 3, 3), rectangle(20, 20, 3, 3))
    diagonal = blank()
    diagonal[0, 5, 5] = diagonal[0, 6, 6] = 255
    # Ink on the last row of one image and the first row of the next must stay apart.
    bottom, top = rectangle(25, 0, 3, 28), rectangle(0, 0, 3, 28)
    frame = m.measure(np.concatenate([two, diagonal, bottom, top]), cache=False)
    assert frame["components"].tolist() == [2, 1, 1, 1]


def test_empty_image_is_flagged_with_explicit_nans_and_does_not_disturb_others():
    images = np.concatenate([blank(), rectangle(5, 7, 10, 6)])
    frame = m.measure(images, cache=False)
    empty = frame.iloc[0]
    assert bool(empty["is_empty"])
    assert not bool(frame.iloc[1]["is_empty"])
    assert empty[["ink", "area", "bbox_height", "bbox_width", "length", "components", "holes"]].tolist() == [0] * 7
    for column in ["com_row", "com_col", "slant_deg", "thickness", "bbox_top", "bbox_left"]:
        assert np.isnan(empty[column]), column
    alone = m.measure(images[1:], cache=False)
    pd.testing.assert_frame_equal(frame.iloc[1:].reset_index(drop=True), alone)
    for transform in (m.deskew, m.center_by_bounding_box, m.center_by_mass):
        out = transform(images)
        assert np.isfinite(out.astype(float)).all()
        np.testing.assert_array_equal(out[0], 0)


def test_no_images_gives_an_empty_frame():
    frame = m.measure(np.zeros((0, 28, 28), dtype=np.uint8), cache=False)
    assert list(frame.columns) == list(m.COLUMNS)
    assert len(frame) == 0


def test_distance_to_background_matches_scipy_edt():
    rng = np.random.default_rng(0)
    blobs = ndi.gaussian_filter(rng.random((6, 28, 28)), sigma=(0, 2, 2))
    inked = blobs > np.quantile(blobs, 0.6)
    image_idx, rows, cols = np.nonzero(inked)
    ours = m._distance_to_background(inked, image_idx, rows, cols)
    # scipy's reference, with a blank border so that outside the image counts as background.
    reference = np.concatenate([ndi.distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1][mask] for mask in inked])
    np.testing.assert_allclose(ours, reference)


def test_center_by_bounding_box_puts_the_box_in_the_middle():
    image = rectangle(0, 1, 6, 9)
    centred = m.center_by_bounding_box(image)
    row = m.measure(centred, cache=False).iloc[0]
    assert (row["bbox_height"], row["bbox_width"]) == (6, 9)
    assert abs(row["bbox_top"] + (6 - 1) / 2 - 13.5) <= 0.5
    assert abs(row["bbox_left"] + (9 - 1) / 2 - 13.5) <= 0.5
    assert centred.sum() == image.sum()


def test_center_by_mass_moves_the_centre_of_mass_within_half_a_pixel_of_the_middle():
    image = np.zeros((1, 28, 28), dtype=np.uint8)
    image[0, 2:6, 3:5] = 255
    image[0, 2, 3:12] = 255  # lopsided: box centre and mass centre differ
    row = m.measure(m.center_by_mass(image), cache=False).iloc[0]
    assert abs(row["com_row"] - 13.5) <= 0.5
    assert abs(row["com_col"] - 13.5) <= 0.5
    boxed = m.measure(m.center_by_bounding_box(image), cache=False).iloc[0]
    assert abs(boxed["com_col"] - 13.5) > 0.5


def test_distance_to_class_mean_is_zero_for_identical_members_and_grows_for_outliers():
    images = np.repeat(rectangle(4, 10, 20, 3), 5, axis=0)
    images[4] = ring()[0]
    distance = m.distance_to_class_mean(images, [1, 1, 1, 1, 1])
    assert distance.argmax() == 4
    assert np.allclose(distance[:4], distance[0])
    assert np.allclose(m.distance_to_class_mean(images[:4], [1, 1, 2, 2]), 0)


def test_results_are_cached_by_image_content(tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_ANALYSIS_CACHE_DIR", str(tmp_path))
    images = np.concatenate([ring(), rectangle(5, 7, 10, 6)])
    first = m.measure(images)
    assert any(tmp_path.rglob("entry.json")), "the first call should store its result"
    pd.testing.assert_frame_equal(first, m.measure(images.copy()))
    pd.testing.assert_frame_equal(first, m.measure(images, cache=False))
    other = m.measure(images[::-1].copy())
    assert other["holes"].tolist() == [0, 1]


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (np.zeros((28, 28)), "images: expected an array of shape"),
        (np.zeros((2, 28, 28), dtype=bool), "images: expected integer or float"),
    ],
)
def test_bad_images_raise_naming_the_parameter(bad, message):
    with pytest.raises((ValueError, TypeError), match=message):
        m.measure(bad, cache=False)
    with pytest.raises((ValueError, TypeError), match=message):
        m.deskew(bad)


def test_bad_threshold_raises():
    with pytest.raises(ValueError, match="threshold"):
        m.measure(blank(), threshold=0, cache=False)


def test_measuring_in_blocks_gives_what_one_pass_over_the_stack_gives(monkeypatch):
    rng = np.random.default_rng(5)
    images = np.zeros((37, 28, 28), dtype=np.uint8)
    for i, image in enumerate(images):  # strokes of varied size, position and grey, one empty image
        if i:
            top, left = rng.integers(2, 14, size=2)
            image[top : top + rng.integers(4, 12), left : left + rng.integers(2, 10)] = rng.integers(60, 256)
    whole = m._measure_block(images, 128)
    monkeypatch.setattr(m, "MEASURE_BLOCK", 8)
    blocked = m._measure_uncached(images, 128)
    pd.testing.assert_frame_equal(blocked, whole)
    assert blocked.index.equals(pd.RangeIndex(37))
    assert bool(blocked["is_empty"].iloc[0])
