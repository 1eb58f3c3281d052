"""Morpho-MNIST morphometrics: known answers on drawn shapes, the library pieces they stand for,
and Morpho-MNIST's released values for training image 0."""

import numpy as np
import pandas as pd
import pytest
from scipy import ndimage as ndi
from skimage.morphology import medial_axis
from skimage.transform import pyramid_expand

import mnist_analysis as mx
from mnist_analysis import morphometrics as mm

#: Morpho-MNIST's released values for training image 0 (their original/train-morpho.csv,
#: as quoted in their test suite), typed here again so that a change to the package's copy fails.
RELEASED_TRAIN_0 = {
    "area": 107.3125,
    "length": 50.26650429449552,
    "thickness": 2.4606583773939543,
    "slant": 0.23107446620980754,
    "width": 14.539571782767355,
    "height": 19.849053691610763,
}
#: Tolerances of issue 16.
RELATIVE_TOLERANCE = {"area": 0.03, "width": 0.03, "height": 0.03, "thickness": 0.05, "length": 0.07}
SLANT_TOLERANCE_RAD = 0.02


def _canvas(n=1):
    return np.zeros((n, 28, 28), dtype=np.uint8)


@pytest.fixture(scope="module")
def shapes():
    """Drawn digits-like shapes, full ink (255) on black."""
    images = _canvas(7)
    images[0, 6:22, 12:16] = 255  # upright bar 4 wide, 16 high
    images[1, 4:24, 13:15] = 255  # upright bar 2 wide, 20 high
    images[2, 13:15, 4:24] = 255  # the same bar lying down
    images[3, 8:20, 9:19] = 255  # filled rectangle 10 wide, 12 high
    images[4, 4:24, 12:15] = 255  # upright bar 3 wide, 20 high
    columns = np.arange(28)
    for r in range(4, 24):  # that bar sheared, anti-aliased: a quarter column to the right per row up
        left = 12 + (24 - r - 0.5) / 4
        covered = np.clip(np.minimum(columns + 1, left + 3) - np.maximum(columns, left), 0, 1)
        images[5, r] = np.rint(255 * covered)
    images[6] = images[5, :, ::-1]  # leaning backwards
    return images, mm.morphometrics(images, cache=False)


def test_columns_types_and_order(shapes):
    images, table = shapes
    assert list(table.columns) == list(mm.COLUMNS)
    assert isinstance(table.index, pd.RangeIndex)
    assert len(table) == len(images)
    assert all(table[c].dtype == np.float64 for c in mm.COLUMNS)


def test_area_is_the_inked_area_in_original_pixels(shapes):
    _, table = shapes
    for i, area in [(0, 64), (1, 40), (2, 40), (3, 120), (4, 60), (5, 60)]:
        assert table.area[i] == pytest.approx(area, rel=0.01)


def test_thickness_is_the_stroke_width(shapes):
    _, table = shapes
    assert table.thickness[1] == pytest.approx(2.0, abs=0.05)
    assert table.thickness[2] == pytest.approx(2.0, abs=0.05)
    assert table.thickness[4] == pytest.approx(3.0, abs=0.15)
    assert table.thickness[0] == pytest.approx(4.0, abs=0.3)
    # Shearing a 3-pixel bar by 1/4 narrows it across the stroke by cos(atan(1/4)).
    assert table.thickness[5] == pytest.approx(3.0 * np.cos(np.arctan(0.25)), abs=0.2)


def test_length_follows_the_stroke(shapes):
    _, table = shapes
    assert table.length[1] == pytest.approx(20, rel=0.1)
    assert table.length[2] == pytest.approx(20, rel=0.1)
    assert table.length[5] == pytest.approx(np.hypot(20, 5), rel=0.1)  # along the sheared bar


def test_slant_is_the_shear_in_radians(shapes):
    _, table = shapes
    assert table.slant[[0, 1, 2, 3, 4]].abs().max() < 1e-9
    assert table.slant[5] == pytest.approx(np.arctan(0.25), abs=0.005)  # leans forward: positive
    assert table.slant[6] == pytest.approx(-np.arctan(0.25), abs=0.005)


def test_width_and_height_of_the_slant_corrected_box(shapes):
    _, table = shapes
    assert table.height[1] == pytest.approx(20, rel=0.02)
    assert table.width[2] == pytest.approx(20, rel=0.02)
    assert table.width[1] == pytest.approx(table.height[2])
    assert table.height[1] == pytest.approx(table.width[2])
    assert table.width[3] == pytest.approx(10, rel=0.06)
    assert table.height[3] == pytest.approx(12, rel=0.04)
    assert table.width[0] < table.width[3]
    assert table.height[0] > table.height[3]
    # Along its slant the sheared bar is about as wide as the upright one, far from its 8-pixel span
    # (its anti-aliased edges spread a little more intensity sideways than the upright bar's).
    assert table.width[5] == pytest.approx(table.width[4], rel=0.06)
    assert table.width[5] < 5
    assert table.width[6] == pytest.approx(table.width[5], rel=1e-9)


def test_the_threshold_is_relative_to_the_image_contrast():
    images = _canvas(2)
    images[0, 6:22, 12:16] = 255
    images[1, 6:22, 12:16] = 100
    table = mm.morphometrics(images, cache=False)
    for column in ("area", "length", "thickness", "slant", "height"):
        assert table[column][0] == pytest.approx(table[column][1], rel=0.02, abs=1e-9), column


def test_an_image_without_contrast_has_no_measurements():
    images = _canvas(3)
    images[1] += 37
    images[2, 10:18, 10:18] = 255
    table = mm.morphometrics(images, cache=False)
    assert table.iloc[:2].isna().all().all()
    assert table.iloc[2].notna().all()


def test_no_images_gives_an_empty_table():
    table = mm.morphometrics(np.zeros((0, 28, 28), np.uint8), cache=False)
    assert list(table.columns) == list(mm.COLUMNS)
    assert len(table) == 0


def test_upsampling_matches_scikit_image_pyramid_expand():
    rng = np.random.default_rng(1)
    images = _canvas(3)
    images[0, 5:20, 8:12] = 255
    images[1] = rng.integers(0, 256, (28, 28))
    images[2, 0:28:3, :] = 200  # ink at the borders too
    expected = [np.floor(255.0 * pyramid_expand(image, upscale=4, order=3, channel_axis=None)) for image in images]
    np.testing.assert_array_equal(mm.upsample(images), np.stack(expected).astype(np.uint8))


def test_medial_axes_match_scikit_image_given_the_same_tie_breaking():
    rng = np.random.default_rng(2)
    masks = np.zeros((4, 40, 40), dtype=bool)
    masks[0, 5:30, 10:18] = True
    masks[1] = ndi.binary_opening(rng.random((40, 40)) < 0.6)
    masks[2, 10:30, 10:30] = True
    masks[2, 15:25, 15:25] = False  # a ring
    yy, xx = np.mgrid[:40, :40]
    masks[3] = (yy - 20) ** 2 / 300 + (xx - 18) ** 2 / 60 <= 1
    for mask in masks:
        seed = 7
        tie = np.zeros(mask.shape, dtype=np.int64)
        tie[mask] = np.random.default_rng(seed).permutation(mask.sum())  # medial_axis's own tie-break
        ours = mm.medial_axes(mask[None], ndi.distance_transform_edt(mask)[None], tie)[0]
        np.testing.assert_array_equal(ours, medial_axis(mask, rng=seed))


def test_distance_on_the_box_equals_the_whole_image_transform():
    masks = np.zeros((2, 30, 30), dtype=bool)
    masks[0, 4:20, 6:13] = True
    masks[1, 0:30, 20:30] = True  # touching the borders, where outside is not background
    expected = np.stack([ndi.distance_transform_edt(m) for m in masks])
    np.testing.assert_array_equal(mm._distance_to_background(masks), expected)


@pytest.mark.slow
def test_a_digit_measures_the_same_in_any_batch_and_with_any_worker_count():
    rng = np.random.default_rng(3)
    base = _canvas(1)
    base[0, 6:22, 12:16] = 255
    stack = np.repeat(base, 2_100, axis=0)  # more than one chunk: the workers are used
    stack[:, 3:25, 3:25] = np.maximum(stack[:, 3:25, 3:25], (rng.random((2_100, 22, 22)) < 0.15) * 255)
    alone = mm.morphometrics(stack[[5, 2_050]], cache=False)
    pd.testing.assert_frame_equal(mm.morphometrics(stack, cache=False).iloc[[5, 2_050]].reset_index(drop=True), alone)
    one_worker = mm.morphometrics(stack[:1_500], n_jobs=1, cache=False)
    pd.testing.assert_frame_equal(one_worker.iloc[[5]].reset_index(drop=True), alone.iloc[[0]])


def test_cached_and_uncached_agree(shapes):
    images, table = shapes
    pd.testing.assert_frame_equal(mm.morphometrics(images), table)
    pd.testing.assert_frame_equal(mm.morphometrics(images.astype(np.float64)), table)


@pytest.mark.parametrize(
    ("images", "error", "message"),
    [
        (np.zeros((28, 28)), ValueError, r"images: expected an array of shape \(n, height, width\), found shape"),
        (np.zeros((1, 28, 28), bool), TypeError, "images: expected integer or float grey levels.*found dtype bool"),
        (np.full((1, 28, 28), "a"), TypeError, "images: expected integer or float grey levels"),
        (np.full((1, 28, 28), np.nan), ValueError, "images: expected finite values, found 784 NaN"),
        (
            np.full((1, 28, 28), 256.0),
            ValueError,
            r"images: expected grey levels from 0 to 255, found a value above 255",
        ),
        (-np.ones((1, 28, 28), np.int16), ValueError, r"images: expected grey levels from 0 to 255, found a negative"),
        (np.full((1, 28, 28), 0.8), ValueError, "images: grey levels look like a 0-1 scale"),
    ],
)
def test_bad_images_are_refused(images, error, message):
    with pytest.raises(error, match=message):
        mm.morphometrics(images, cache=False)


def test_bad_worker_counts_are_refused():
    with pytest.raises(TypeError, match=r"n_jobs: expected a positive integer, found float 1.5"):
        mm.morphometrics(_canvas(), n_jobs=1.5, cache=False)
    with pytest.raises(ValueError, match="n_jobs: expected a positive integer, found 0"):
        mm.morphometrics(_canvas(), n_jobs=0, cache=False)


@pytest.mark.realdata
def test_training_image_0_matches_morpho_mnist_released_values(real_data):
    assert mm.RELEASED_TRAIN_0 == RELEASED_TRAIN_0
    image = mx.load_images("train")[:1]
    ours = mm.morphometrics(image, cache=False).iloc[0]
    for column, tolerance in RELATIVE_TOLERANCE.items():
        assert ours[column] == pytest.approx(RELEASED_TRAIN_0[column], rel=tolerance), column
    assert abs(ours["slant"] - RELEASED_TRAIN_0["slant"]) <= SLANT_TOLERANCE_RAD


@pytest.mark.realdata
def test_real_digits_follow_the_procedure_step_by_step(real_data):
    """On real digits, each step equals scikit-image's own function for it (medial axis: same tie-break)."""
    images = mx.load_images("test")[:40]
    table = mm.morphometrics(images, cache=False)
    hires = mm.upsample(images)
    for image, up, row in zip(images, hires, table.itertuples()):
        assert np.array_equal(up, np.floor(255.0 * pyramid_expand(image, 4, order=3, channel_axis=None)))
        mask = up >= up.min() + (int(up.max()) - int(up.min())) / 2
        distance = ndi.distance_transform_edt(mask)
        axis = mm.medial_axes(mask[None], distance[None], mm._tie_order(mask.shape))[0]
        assert row.area == mask.sum() / 16
        assert row.thickness == pytest.approx(2 * distance[axis].mean() / 4, rel=1e-12)
    assert table.notna().all().all()
    assert table.thickness.between(1, 8).all()
    assert table.slant.abs().lt(1.2).all()
