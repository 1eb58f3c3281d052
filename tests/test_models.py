"""The model zoo on small synthetic digits: one API, caching, out-of-fold probabilities."""

import numpy as np
import pandas as pd
import pytest

from mnist_analysis import models
from tests.helpers import stored_computations

CLASSES = (0, 1, 2)


def blocks(n_per_class, seed):
    """Noisy 28x28 images whose class is the position of a bright 10-row band."""
    rng = np.random.default_rng(seed)
    y = np.repeat(CLASSES, n_per_class)
    images = rng.integers(0, 60, size=(len(y), 28, 28))
    for label in CLASSES:
        images[y == label, 2 + 9 * label : 10 + 9 * label, 4:24] = 230
    return images.astype(np.uint8), y


@pytest.fixture(scope="module")
def data():
    X_train, y_train = blocks(40, seed=1)
    X_test, y_test = blocks(10, seed=2)
    return X_train, y_train, X_test, y_test


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_ANALYSIS_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.mark.parametrize("name", sorted(models.MODELS))
def test_every_model_has_the_same_api_and_learns_easy_digits(name, data):
    X_train, y_train, X_test, y_test = data
    result = models.fit_predict(name, X_train, y_train, X_test, seed=0, cache=False)
    assert result.name == name
    assert result.predictions.shape == (len(X_test),)
    assert result.classes.tolist() == list(CLASSES)
    assert np.mean(result.predictions == y_test) >= 0.9
    assert result.fit_seconds > 0
    assert result.predict_seconds > 0
    if models.MODELS[name].gives_probabilities:
        assert result.probabilities.shape == (len(X_test), len(CLASSES))
        np.testing.assert_allclose(result.probabilities.sum(axis=1), 1, atol=1e-6)
        assert (result.predictions == result.classes[result.probabilities.argmax(axis=1)]).all()
    else:
        assert result.probabilities is None


@pytest.mark.parametrize("name", ["logistic_regression", "extra_trees", "mlp", "svm_rbf_pca"])
def test_same_seed_same_numbers_and_flat_rows_accepted(name, data):
    X_train, y_train, X_test, _ = data
    first = models.fit_predict(name, X_train, y_train, X_test, seed=3, cache=False)
    again = models.fit_predict(
        name, X_train.reshape(len(X_train), -1), y_train, X_test.reshape(len(X_test), -1), seed=3, cache=False
    )
    np.testing.assert_array_equal(first.predictions, again.predictions)
    if first.probabilities is not None:
        np.testing.assert_array_equal(first.probabilities, again.probabilities)


def test_fit_predict_is_cached_on_disk(data, monkeypatch, private_cache):
    X_train, y_train, X_test, _ = data
    fits = stored_computations(monkeypatch)

    first = models.fit_predict("knn_pca", X_train, y_train, X_test, seed=0)
    again = models.fit_predict("knn_pca", X_train, y_train, X_test, seed=0)
    assert len(fits) == 1
    assert again.fit_seconds == first.fit_seconds
    np.testing.assert_array_equal(again.probabilities, first.probabilities)
    assert any((private_cache / "computed" / "models").rglob("entry.json"))

    models.fit_predict("knn_pca", X_train, y_train, X_test, seed=1)  # new seed: new entry
    models.fit_predict("knn_pca", X_train, y_train, X_test[:5], seed=0)  # new data: new entry
    assert len(fits) == 3


def test_cache_false_writes_nothing(data, private_cache):
    X_train, y_train, X_test, _ = data
    models.fit_predict("qda_pca", X_train, y_train, X_test, cache=False)
    models.out_of_fold_probabilities("qda_pca", X_train, y_train, n_splits=2, cache=False)
    assert not private_cache.exists()


def test_out_of_fold_probabilities_shape_and_cache(data, monkeypatch):
    X_train, y_train, _, _ = data
    probabilities = models.out_of_fold_probabilities("knn_pca", X_train, y_train, n_splits=4)
    assert probabilities.shape == (len(X_train), len(CLASSES))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1)
    assert np.mean(probabilities.argmax(axis=1) == y_train) >= 0.9
    computed = stored_computations(monkeypatch)
    np.testing.assert_array_equal(
        models.out_of_fold_probabilities("knn_pca", X_train, y_train, n_splits=4), probabilities
    )
    assert computed == []  # read back, not refitted


def test_out_of_fold_groups_hold_each_group_out_together():
    # 30 "writers" with random labels, each writing one random image four times.
    # Plain folds leave a writer's twins in training, so 3-NN recognises them; grouped
    # folds hold all four out together, and the random labels can no longer be guessed.
    rng = np.random.default_rng(0)
    group_labels = np.repeat(CLASSES, 10)
    group_images = rng.integers(0, 256, size=(30, 784))
    groups = np.repeat(np.arange(30), 4)
    X, y = group_images[groups], group_labels[groups]
    plain = models.out_of_fold_probabilities("knn_pixels", X, y, n_splits=5, cache=False)
    grouped = models.out_of_fold_probabilities("knn_pixels", X, y, n_splits=5, groups=groups, cache=False)
    assert np.mean(plain.argmax(axis=1) == y) > 0.9
    assert np.mean(grouped.argmax(axis=1) == y) < 0.6


def test_error_table_joins_published_rates(data):
    X_train, y_train, X_test, y_test = data
    results = {name: models.fit_predict(name, X_train, y_train, X_test, cache=False) for name in ["knn_pixels", "mlp"]}
    table = models.error_table(results, y_test)
    assert set(table.index) == {"knn_pixels", "mlp"}
    assert table.loc["knn_pixels", "published_error_percent"] == 3.09
    assert np.isnan(table.loc["mlp", "published_error_percent"])
    errors = int(np.sum(results["mlp"].predictions != y_test))
    assert table.loc["mlp", "error_percent"] == pytest.approx(100 * errors / len(y_test))
    assert (table["ci_low_percent"] <= table["error_percent"]).all()
    assert (table["error_percent"] <= table["ci_high_percent"]).all()


def test_published_rates_name_models_of_the_zoo():
    published = models.published_error_rates()
    assert set(published["model"]) <= set(models.MODELS)
    assert published.set_index("model").loc["svm_rbf_pca", "error_percent"] == 1.4


@pytest.mark.parametrize(
    ("call", "parameter"),
    [
        (lambda d: models.fit_predict("nearest_centroid", *d[:3]), "name"),
        (lambda d: models.fit_predict("knn_pca", d[0][:, :20], d[1], d[2]), "X_train"),
        (lambda d: models.fit_predict("knn_pca", d[0], d[1], d[2][:, :, :5]), "X_test"),
        (lambda d: models.fit_predict("knn_pca", d[0], d[1][:-1], d[2]), "y_train"),
        (lambda d: models.fit_predict("knn_pca", *d[:3], seed=-1), "seed: expected an integer from 0"),
        (lambda d: models.out_of_fold_probabilities("svm_rbf_pca", d[0], d[1]), "name"),
        (lambda d: models.out_of_fold_probabilities("knn_pca", d[0], d[1], n_splits=1), "n_splits"),
        (lambda d: models.out_of_fold_probabilities("knn_pca", d[0], d[1], groups=[1, 2]), "groups"),
    ],
)
def test_bad_input_names_the_parameter(call, parameter, data):
    with pytest.raises(ValueError, match=parameter):
        call(data)


def test_a_seed_of_the_wrong_type_is_a_type_error(data):
    with pytest.raises(TypeError, match=r"seed: expected an integer from 0 to 4,294,967,295, found float 0\.5"):
        models.fit_predict("knn_pca", *data[:3], seed=0.5)


def test_published_comparison_gives_a_verdict_from_the_interval():
    table = pd.DataFrame(
        {
            "error_percent": [1.0, 3.0, 5.0, 2.0],
            "ci_low_percent": [0.8, 2.5, 4.5, 1.0],
            "ci_high_percent": [1.2, 3.5, 5.5, 3.0],
            "published_method": ["a", "b", "c", None],
            "published_error_percent": [1.4, 3.2, 4.0, None],
        },
        index=["w", "x", "y", "z"],
    )
    compared = models.published_comparison(table)
    assert compared["verdict"].to_dict() == {"w": "better", "x": "consistent", "y": "worse"}
    with pytest.raises(ValueError, match="missing \\['published_method'"):
        models.published_comparison(table.drop(columns="published_method"))


def test_fit_zoo_fits_the_named_models_in_zoo_order_and_refuses_unknown_names():
    from mnist_analysis.models import MODELS, fit_predict, fit_zoo

    rng = np.random.default_rng(1)
    X, y = rng.integers(0, 256, size=(120, 28, 28)), np.repeat([0, 1, 2], 40)
    X[y == 1, :10] = 255
    X[y == 2, 18:] = 255
    results = fit_zoo(X[::2], y[::2], X[1::2], names=["knn_pca", "knn_pixels"], seed=3, cache=False)
    assert list(results) == [n for n in MODELS if n in {"knn_pca", "knn_pixels"}]
    alone = fit_predict("knn_pca", X[::2], y[::2], X[1::2], seed=3, cache=False)
    np.testing.assert_array_equal(results["knn_pca"].predictions, alone.predictions)
    with pytest.raises(ValueError, match="names: expected some of"):
        fit_zoo(X[::2], y[::2], X[1::2], names=["svm"], cache=False)
    with pytest.raises(TypeError, match="names: expected a list of model names"):
        fit_zoo(X[::2], y[::2], X[1::2], names="knn_pca", cache=False)


def count_fits(monkeypatch):
    """Record every pipeline fitted from now on (a spy on scikit-learn, so the cache still works)."""
    from sklearn.pipeline import Pipeline

    fitted = []
    original = Pipeline.fit

    def counting(self, X, y=None, **params):
        fitted.append(type(self.steps[-1][1]).__name__)
        return original(self, X, y, **params)

    monkeypatch.setattr(Pipeline, "fit", counting)
    return fitted


@pytest.mark.parametrize("name", ["qda_pca", "knn_deskewed"])
def test_predict_many_fits_once_and_gives_what_fit_predict_gives(name, data, monkeypatch):
    X_train, y_train, X_test, y_test = data
    models.forget_fitted_models()
    fits = count_fits(monkeypatch)
    flipped = X_test[:, ::-1]
    results = models.predict_many(name, X_train, y_train, [X_test, flipped, X_test[:4]], seed=0)
    assert len(fits) == 1, "one fit for every test set"
    assert [len(r.predictions) for r in results] == [len(X_test), len(X_test), 4]
    assert (results[0].predictions == y_test).all()
    # Each set has the cache entry fit_predict reads: nothing is fitted or predicted again.
    stored = stored_computations(monkeypatch)
    for X, result in zip([X_test, flipped], results):
        alone = models.fit_predict(name, X_train, y_train, X, seed=0)
        np.testing.assert_array_equal(alone.predictions, result.predictions)
        np.testing.assert_array_equal(alone.probabilities, result.probabilities)
    assert not stored
    assert len(fits) == 1
    # A model the zoo keeps stays fitted in memory; the nearest-neighbour ones are let go.
    assert (models.forget_fitted_models() == 1) == models.MODELS[name].keep_fitted


def test_a_kept_fit_serves_later_predictions_without_fitting_again(data, monkeypatch):
    X_train, y_train, X_test, _ = data
    models.forget_fitted_models()
    fits = count_fits(monkeypatch)
    first = models.fit_predict("logistic_regression", X_train, y_train, X_test, seed=0, cache=False)
    later = models.predict_many("logistic_regression", X_train, y_train, [X_test[::-1]], seed=0, cache=False)
    assert len(fits) == 1
    np.testing.assert_array_equal(later[0].predictions, first.predictions[::-1])
    model = models.fitted_model("logistic_regression", X_train, y_train, seed=0)
    assert model is models.fitted_model("logistic_regression", X_train, y_train, seed=0)
    assert len(fits) == 1
    models.fitted_model("logistic_regression", X_train, y_train, seed=1)  # another seed: another fit
    models.fitted_model("logistic_regression", X_train[:-3], y_train[:-3], seed=0)  # other data: another fit
    assert len(fits) == 3
    assert models.forget_fitted_models() == 3
    models.fitted_model("logistic_regression", X_train, y_train, seed=0)
    assert len(fits) == 4


def test_predict_many_refuses_what_is_not_a_list_of_test_sets(data):
    X_train, y_train, X_test, _ = data
    with pytest.raises(ValueError, match="test_sets: expected a sequence of image arrays"):
        models.predict_many("qda_pca", X_train, y_train, X_test, cache=False)
    with pytest.raises(ValueError, match="test_sets: expected at least one test set"):
        models.predict_many("qda_pca", X_train, y_train, [], cache=False)
    with pytest.raises(ValueError, match=r"X_test: expected images of shape \(n, 28, 28\) or rows"):
        models.predict_many("qda_pca", X_train, y_train, [X_test[:, :5]], cache=False)
