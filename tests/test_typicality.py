"""Typicality and sub-style helpers on synthetic data with known answers."""

import numpy as np
import pytest

from mnist_analysis import substyles as st
from mnist_analysis import typicality as ty
from mnist_analysis.intrinsic_dimension import neighbour_distances


def test_the_core_of_a_blob_is_typical_and_a_far_point_is_not():
    rng = np.random.default_rng(0)
    points = np.concatenate([rng.normal(0, 1, (2000, 2)), [[15.0, 15.0]]])
    labels = np.zeros(2001, int)
    distances, _ = neighbour_distances(points, 20, groups=labels, cache=False)
    scores = ty.typicality(distances, labels)
    radius = np.linalg.norm(points, axis=1)
    assert scores[-1] == scores.min() == pytest.approx(1 / 2001)
    assert scores.max() == 1.0
    assert scores[radius < 0.5].mean() > 0.8
    assert scores[(radius > 2.5) & (radius < 10)].mean() < 0.2
    picked = ty.extremes(scores, labels, n=1)
    assert picked.loc[0, "least"] == [2000]
    assert radius[picked.loc[0, "most"][0]] < 1


def test_typicality_compares_a_digit_only_with_its_own_class():
    distances = np.array([[1.0], [2.0], [10.0], [20.0]])
    scores = ty.typicality(distances, [0, 0, 1, 1])
    assert scores.tolist() == [1.0, 0.5, 1.0, 0.5]  # class 1's densest is typical although far


def test_image_typicality_uses_k_same_class_neighbours_whatever_the_search_size():
    rng = np.random.default_rng(1)
    points = rng.normal(size=(90, 4))
    labels = np.repeat([0, 1, 2], 30)
    distances, _ = neighbour_distances(points, 7, groups=labels, cache=False)
    expected = ty.typicality(distances, labels)
    np.testing.assert_array_equal(ty.image_typicality(points, labels, k=7, cache=False), expected)
    small = np.repeat([0, 1, 2], [12, 30, 48])  # a class smaller than the usual search of 20
    distances, _ = neighbour_distances(points, 7, groups=small, cache=False)
    np.testing.assert_array_equal(ty.image_typicality(points, small, k=7, cache=False), ty.typicality(distances, small))


def test_image_typicality_refuses_a_class_of_k_images_or_fewer():
    with pytest.raises(ValueError, match=r"more than k=10 images of every class; class 1 has 10"):
        ty.image_typicality(np.arange(40.0)[:, None], np.repeat([0, 1], [30, 10]), cache=False)


def test_style_names_join_label_and_style():
    assert st.style_names([3, 3, 7], [0, 1, 0]).tolist() == ["3.0", "3.1", "7.0"]


def test_substyles_find_the_two_styles_of_each_class():
    rng = np.random.default_rng(0)
    a = np.concatenate([rng.normal(0, 0.2, (60, 3)), rng.normal(4, 0.2, (30, 3))])
    b = np.concatenate([rng.normal(-4, 0.2, (40, 3)), rng.normal(8, 0.2, (40, 3)), rng.normal(20, 0.2, (40, 3))])
    points, labels = np.concatenate([a, b]), np.repeat([0, 1], [90, 120])
    styles, table = st.substyles(points, labels, max_styles=4, cache=False)
    assert table.set_index("label")["n_styles"].to_dict() == {0: 2, 1: 3}
    assert styles[:60].tolist() == [0] * 60
    assert styles[60:90].tolist() == [1] * 30
    assert len(set(styles[90:130])) == 1
    assert len(set(styles[90:])) == 3


def test_style_shares_by_writer_group_with_clustered_intervals():
    writers = np.repeat(np.arange(40), 10)
    group = np.where(writers < 20, "census", "student")
    styles = ((writers >= 20) & (np.arange(400) % 10 < 8)).astype(int)  # students: 80 % in style 1
    table = st.style_shares_by_group(np.zeros(400, int), styles, writers, group, n_boot=200)
    assert table.loc[(0, 1), "first_share"] == 0.0
    assert table.loc[(0, 1), "second_share"] == pytest.approx(0.8)
    assert table.loc[(0, 1), "ci_low"] > 0.5


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: ty.typicality(np.ones((3, 2)), [0, 0]), "shape"),
        (lambda: ty.typicality(np.full((2, 1), -1.0), [0, 0]), "non-negative"),
        (lambda: st.substyles(np.zeros((4, 2)), [0, 0, 0, 0], max_styles=5, cache=False), "more than max_styles"),
        (lambda: st.substyles(np.zeros((9, 2)), np.zeros(9), max_styles=1, cache=False), "max_styles"),
    ],
)
def test_bad_input_is_refused(call, message):
    with pytest.raises(ValueError, match=message):
        call()
