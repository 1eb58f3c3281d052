"""HOG features: orientation, cells, normalisation and bad input."""

import numpy as np
import pytest

from mnist_analysis.gradient_features import hog_features


def stroke(angle_degrees, side=16):
    """A straight bright stroke through the centre of a side x side image at the given angle."""
    image = np.zeros((side, side))
    t = np.linspace(-side, side, 8 * side)
    rows = np.round(side / 2 - 0.5 - t * np.sin(np.radians(angle_degrees))).astype(int)
    columns = np.round(side / 2 - 0.5 + t * np.cos(np.radians(angle_degrees))).astype(int)
    inside = (rows >= 0) & (rows < side) & (columns >= 0) & (columns < side)
    image[rows[inside], columns[inside]] = 255
    return image


def test_the_strongest_bin_follows_the_stroke_orientation():
    # Gradients are perpendicular to the stroke: a horizontal stroke votes at 90 degrees (bin 2 of 4).
    for angle, expected_bin in ((90, 0), (0, 2)):
        features = hog_features(stroke(angle)[None], cell=4, bins=4)
        histogram = features.reshape(-1, 4).sum(axis=0)
        assert histogram.argmax() == expected_bin, (angle, histogram)


def test_shape_scale_invariance_and_blank_images():
    images = np.stack([stroke(30, 28), stroke(120, 28), np.zeros((28, 28))])
    features = hog_features(images)
    assert features.shape == (3, 6 * 6 * 4 * 9)
    assert features.dtype == np.float32
    # Block normalisation removes the grey scale, up to the 1e-3 added to every block norm.
    np.testing.assert_allclose(hog_features(images / 255), features, atol=5e-3)
    assert (features[2] == 0).all()
    assert not np.allclose(features[0], features[1])
    # Blocks of 4096 images are computed apart: the result does not depend on the batch.
    np.testing.assert_array_equal(hog_features(images[:1]), features[:1])


@pytest.mark.parametrize(
    ("images", "kwargs", "error", "message"),
    [
        (np.zeros((2, 28)), {}, ValueError, r"images: expected an array of shape \(n, height, width\), found"),
        (
            np.zeros((1, 28, 28)),
            {"cell": 15},
            ValueError,
            r"cell: expected at most half the image side \(14\), found 15",
        ),
        (np.zeros((1, 28, 28)), {"bins": 1}, ValueError, "bins: expected an integer"),
        (np.full((1, 28, 28), np.nan), {}, ValueError, "images: expected finite grey levels"),
    ],
)
def test_bad_input_is_refused_with_the_parameter_named(images, kwargs, error, message):
    with pytest.raises(error, match=message):
        hog_features(images, **kwargs)
