"""Perturbations: what each claims on drawn strokes with known answers and on real digits."""

import numpy as np
import pytest
from scipy import ndimage as ndi

import mnist_analysis as mx
from mnist_analysis import perturbations as pt
from mnist_analysis.morphometrics import morphometrics

EIGHT = np.ones((3, 3), bool)


def _pieces(images):
    return np.array([ndi.label(image > 127, EIGHT)[1] for image in images])


def _measured(images):
    return morphometrics(images, cache=False, n_jobs=1)


@pytest.fixture(scope="module")
def strokes():
    """Bars 4 and 5 pixels wide, upright and lying, and an L: thick enough to thin by 2."""
    images = np.zeros((4, 28, 28), np.uint8)
    images[0, 5:23, 12:16] = 255
    images[1, 12:17, 4:24] = 255
    images[2, 4:24, 11:16] = 255
    images[3, 4:22, 8:12] = 255
    images[3, 18:22, 8:22] = 255
    return images


@pytest.fixture(scope="module")
def round_trip(strokes):
    return _measured(pt.perturb(strokes, "thin", 0, cache=False))


@pytest.mark.parametrize("amount", [1.0, 2.0])
def test_thinning_by_t_lowers_thickness_by_about_t(strokes, round_trip, amount):
    after = _measured(pt.perturb(strokes, "thin", amount, cache=False))
    change = (round_trip["thickness"] - after["thickness"]).to_numpy()
    assert np.all(np.abs(change - amount) < 0.5), change
    assert np.all(_pieces(pt.perturb(strokes, "thin", amount, cache=False)) == 1)


@pytest.mark.parametrize("amount", [1.0, 2.0])
def test_thickening_by_t_raises_thickness_by_about_t(strokes, round_trip, amount):
    after = _measured(pt.perturb(strokes, "thicken", amount, cache=False))
    change = (after["thickness"] - round_trip["thickness"]).to_numpy()
    assert np.all(np.abs(change - amount) < 0.5), change
    assert np.all(after["area"] > round_trip["area"])


def test_round_trip_keeps_the_strokes(strokes, round_trip):
    before = _measured(strokes)
    assert np.allclose(round_trip["thickness"], before["thickness"], atol=0.3)
    assert np.allclose(round_trip["area"], before["area"], rtol=0.05)


def test_fractures_add_breaks_and_keep_most_of_the_area(strokes, round_trip):
    broken = pt.perturb(strokes, "fracture", 2, seed=3, cache=False)
    assert np.all(_pieces(broken) >= 2)  # each stroke is cut at least once
    area = _measured(broken)["area"] / round_trip["area"]
    assert np.all((area > 0.7) & (area < 1.0)), area
    assert np.array_equal(pt.perturb(strokes, "fracture", 0, cache=False), pt.perturb(strokes, "thin", 0, cache=False))


def test_swelling_inflates_locally_and_one_is_the_identity(strokes):
    same = pt.perturb(strokes, "swell", 1, cache=False)
    assert np.array_equal(same, pt.perturb(strokes, "thin", 0, cache=False))
    swollen = pt.perturb(strokes, "swell", 3, seed=1, cache=False)
    grown = (swollen > 127) & ~(same > 127)
    assert np.all(grown.sum(axis=(1, 2)) > 5)
    for image in grown:  # the new ink sits within the swelling's radius of one point
        rows, cols = np.nonzero(image)
        assert max(np.ptp(rows), np.ptp(cols)) <= 2 * pt.SWELL_RADIUS + 1


def test_slant_and_scale_change_what_they_say(strokes, round_trip):
    before = _measured(strokes)
    slanted = _measured(pt.perturb(strokes[[0, 2]], "slant", 20, cache=False))
    assert np.allclose(np.degrees(slanted["slant"] - before["slant"].iloc[[0, 2]].to_numpy()), 20, atol=3)
    smaller = _measured(pt.perturb(strokes, "scale", 0.8, cache=False))
    tall = [0, 2, 3]  # the height of a tall digit, the width of the lying bar
    assert np.allclose(smaller["height"].iloc[tall] / before["height"].iloc[tall], 0.8, atol=0.05)
    assert abs(smaller["width"].iloc[1] / before["width"].iloc[1] - 0.8) < 0.05


def test_seeded_and_independent_of_chunking(strokes):
    many = np.concatenate([strokes] * 3)
    one = pt.perturb(many, "fracture", 2, seed=5, cache=False)
    assert np.array_equal(one, pt.perturb(many, "fracture", 2, seed=5, cache=False))
    assert not np.array_equal(one, pt.perturb(many, "fracture", 2, seed=6, cache=False))
    # image 4 is image 0 at another position: a different draw, but the same as alone at position 4
    parts = np.concatenate(
        [pt._perturb_chunk(many[:5], [("fracture", 2)], 5, 0), pt._perturb_chunk(many[5:], [("fracture", 2)], 5, 5)],
        axis=1,
    )
    assert np.array_equal(parts[0], one)


def test_grid_matches_single_calls(strokes):
    conditions, stacks = pt.perturbation_grid(strokes, {"thicken": [1], "slant": [10, -10]}, cache=False)
    assert conditions["label"].tolist() == ["original", "thicken 1", "slant 10", "slant -10"]
    assert np.array_equal(stacks[0], strokes)
    assert np.array_equal(stacks[2], pt.perturb(strokes, "slant", 10, cache=False))


@pytest.mark.parametrize(
    ("kind", "strength", "message"),
    [("blur", 1, "kind: expected one of"), ("thin", -1, "strength: expected 0.0 to 10.0"), ("scale", 0, "scale")],
)
def test_bad_arguments_are_named(strokes, kind, strength, message):
    with pytest.raises(ValueError, match=message):
        pt.perturb(strokes, kind, strength, cache=False)
    with pytest.raises(ValueError, match="28x28"):
        pt.perturb(np.zeros((1, 20, 20)), "thin", 1, cache=False)
    with pytest.raises(ValueError, match="grid"):
        pt.perturbation_grid(strokes, {}, cache=False)


def test_real_digits(real_data):
    digits = np.asarray(mx.load_images("test")[:120])
    _, stacks = pt.perturbation_grid(digits, {"thin": [0, 1], "thicken": [1], "fracture": [3]}, seed=0)
    base, thin, thick, broken = (_measured(stack) for stack in stacks[1:])
    thinned = (base["thickness"] - thin["thickness"]).median()
    thickened = (thick["thickness"] - base["thickness"]).median()
    assert 0.6 < thinned < 1.3, (thinned, thickened)
    assert 0.7 < thickened < 1.3, (thinned, thickened)
    assert (_pieces(stacks[4]) - _pieces(stacks[1])).mean() > 1.5  # about one more piece per fracture
    assert 0.75 < (broken["area"] / base["area"]).median() < 1.0
    # cached: the second call reads what the first stored
    again = pt.perturbation_grid(digits, {"thin": [0, 1], "thicken": [1], "fracture": [3]}, seed=0)[1]
    assert np.array_equal(again, stacks)
