"""Streaming metrics against sklearn.metrics (and Keras for the accuracy rules)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

import descentlab as dl
from descentlab.train import metrics as M


def _stream(metric, y_pred, y_true, sample_weight=None, chunks=5):
    """Feed the data in uneven batches; the result must equal one call on everything."""
    metric.reset()
    n = len(y_true)
    cuts = np.sort(np.random.default_rng(n).choice(np.arange(1, n), chunks - 1, replace=False))
    for idx in np.split(np.arange(n), cuts):
        w = None if sample_weight is None else sample_weight[idx]
        metric.update(y_pred[idx], y_true[idx], sample_weight=w)
    streamed = metric.result()
    metric.reset()
    metric.update(y_pred, y_true, sample_weight=sample_weight)
    once = metric.result()
    np.testing.assert_allclose(streamed, once, rtol=1e-12, atol=1e-15)
    return once


@pytest.fixture
def multiclass():
    rng = np.random.default_rng(0)
    n, c = 300, 5
    logits = rng.normal(size=(n, c))
    y = rng.integers(0, c, n)
    logits[np.arange(n), y] += 1.0  # better than chance
    w = rng.uniform(0.1, 2.0, n)
    return logits, y, w


@pytest.fixture
def binary():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 250)
    p = 1 / (1 + np.exp(-(rng.normal(size=250) + 1.2 * (2 * y - 1))))
    w = rng.uniform(0.1, 2.0, 250)
    return p, y, w


def test_accuracy_variants(multiclass, binary):
    logits, y, w = multiclass
    ref = skm.accuracy_score(y, logits.argmax(1))
    assert _stream(M.SparseCategoricalAccuracy(), logits, y) == pytest.approx(ref, rel=1e-12)
    onehot = np.eye(5)[y]
    assert _stream(M.CategoricalAccuracy(), logits, onehot) == pytest.approx(ref, rel=1e-12)
    ref_w = skm.accuracy_score(y, logits.argmax(1), sample_weight=w)
    assert _stream(M.Accuracy(), logits, y, w) == pytest.approx(ref_w, rel=1e-12)
    p, yb, wb = binary
    ref_b = skm.accuracy_score(yb, p > 0.5, sample_weight=wb)
    assert _stream(M.BinaryAccuracy(), p, yb, wb) == pytest.approx(ref_b, rel=1e-12)
    assert _stream(M.BinaryAccuracy(threshold=0.7), p[:, None], yb) == pytest.approx(
        skm.accuracy_score(yb, p > 0.7), rel=1e-12
    )


@pytest.mark.parametrize(
    "pred_shape,true_shape,mode",
    [((8, 1), (8, 1), "binary"), ((8,), (8,), "binary"), ((8, 3), (8,), "sparse_categorical"),
     ((8, 3), (8, 1), "sparse_categorical"), ((8, 3), (8, 3), "categorical")],
)  # fmt: skip
def test_accuracy_auto_mode_matches_keras(keras, pred_shape, true_shape, mode):
    rng = np.random.default_rng(2)
    y_pred = rng.random(pred_shape).astype(np.float32)
    if mode == "categorical":
        y_true = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 8)]
    elif mode == "sparse_categorical":
        y_true = rng.integers(0, 3, true_shape).astype(np.float32)
    else:
        y_true = rng.integers(0, 2, true_shape).astype(np.float32)
    acc = M.get("acc")
    value = acc(y_pred, y_true)
    assert acc.mode == mode and acc.name == "acc"
    ref_cls = {
        "binary": keras.metrics.BinaryAccuracy,
        "sparse_categorical": keras.metrics.SparseCategoricalAccuracy,
        "categorical": keras.metrics.CategoricalAccuracy,
    }[mode]
    ref = ref_cls()
    if pred_shape == (8,):  # Keras would average a rank-1 batch as one sample; compare per sample
        ref.update_state(y_true[:, None], y_pred[:, None])
    else:
        ref.update_state(y_true, y_pred)
    assert value == pytest.approx(float(ref.result()), rel=1e-6)


def test_top_k_matches_sklearn(multiclass):
    logits, y, w = multiclass
    for k in (1, 2, 3):
        ref = skm.top_k_accuracy_score(y, logits, k=k, labels=range(5))
        assert _stream(M.SparseTopKCategoricalAccuracy(k=k), logits, y) == pytest.approx(ref)
        assert _stream(M.TopKCategoricalAccuracy(k=k), logits, np.eye(5)[y]) == pytest.approx(ref)
        ref_w = skm.top_k_accuracy_score(y, logits, k=k, labels=range(5), sample_weight=w)
        assert _stream(M.TopKCategoricalAccuracy(k=k), logits, y, w) == pytest.approx(ref_w)
    with pytest.raises(ValueError, match="outside"):
        M.SparseTopKCategoricalAccuracy(k=2).update(logits[:2], np.array([0, 7]))


def test_confusion_matrix_matches_sklearn(multiclass):
    logits, y, w = multiclass
    pred = logits.argmax(1)
    cm = _stream(M.ConfusionMatrix(), logits, y, w)
    np.testing.assert_allclose(cm, skm.confusion_matrix(y, pred, sample_weight=w), rtol=1e-12)
    # labels as integers, growing matrix, fixed size
    grow = M.ConfusionMatrix()
    grow.update(np.array([0, 1]), np.array([0, 0]))
    grow.update(np.array([3]), np.array([2]))
    np.testing.assert_array_equal(grow.result(), skm.confusion_matrix([0, 0, 2], [0, 1, 3]))
    fixed = M.ConfusionMatrix(num_classes=3)
    with pytest.raises(ValueError, match="outside"):
        fixed.update(np.array([0, 3]), np.array([0, 1]))


@pytest.mark.parametrize("average", ["macro", "micro", "weighted"])
@pytest.mark.parametrize("weighted", [False, True])
def test_precision_recall_f1_multiclass(multiclass, average, weighted):
    logits, y, w = multiclass
    w = w if weighted else None
    pred = logits.argmax(1)
    for cls, fn in [(M.Precision, skm.precision_score), (M.Recall, skm.recall_score),
                    (M.F1Score, skm.f1_score)]:  # fmt: skip
        ours = _stream(cls(average=average), logits, y, w)
        ref = fn(y, pred, average=average, sample_weight=w, zero_division=0)
        assert ours == pytest.approx(ref, rel=1e-12), cls.__name__


def test_precision_recall_f1_binary_and_absent_classes(binary):
    p, y, w = binary
    pred = (p > 0.5).astype(int)
    for cls, fn in [(M.Precision, skm.precision_score), (M.Recall, skm.recall_score),
                    (M.F1Score, skm.f1_score)]:  # fmt: skip
        assert _stream(cls(), p, y, w) == pytest.approx(fn(y, pred, sample_weight=w), rel=1e-12)
        assert _stream(cls(pos_label=0, average="binary"), p, y) == pytest.approx(
            fn(y, pred, pos_label=0), rel=1e-12
        )
    # macro averages over labels present in y_true or y_pred, with 0 for 0/0, like sklearn
    yt, yp = np.array([0, 0, 3, 3, 1]), np.array([0, 1, 3, 0, 0])
    for cls, fn in [(M.Precision, skm.precision_score), (M.F1Score, skm.f1_score)]:
        ours = cls(average="macro")(yp, yt)
        assert ours == pytest.approx(fn(yt, yp, average="macro", zero_division=0), rel=1e-12)
    with pytest.raises(ValueError, match="average='binary' needs 2 classes"):
        M.Precision(average="binary")(np.array([0, 1, 2]), np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="average must be one of"):
        M.Recall(average="samples")


def test_auc_binary_matches_sklearn_with_ties_and_weights(binary):
    p, y, w = binary
    assert _stream(M.AUC(), p, y) == pytest.approx(skm.roc_auc_score(y, p), rel=1e-12)
    assert _stream(M.AUC(), p[:, None], y, w) == pytest.approx(
        skm.roc_auc_score(y, p, sample_weight=w), rel=1e-12
    )
    coarse = np.round(p, 1)  # many ties
    assert _stream(M.AUC(), coarse, y, w) == pytest.approx(
        skm.roc_auc_score(y, coarse, sample_weight=w), rel=1e-12
    )
    assert np.isnan(M.AUC()(np.array([0.2, 0.8]), np.array([1, 1])))  # one class only
    with pytest.raises(ValueError, match="binary scores need labels"):
        M.AUC().update(np.array([0.1, 0.2]), np.array([0, 2]))


def test_auc_multiclass_ovr_matches_sklearn(multiclass):
    logits, y, w = multiclass
    prob = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    ref = skm.roc_auc_score(y, prob, multi_class="ovr", average="macro")
    assert _stream(M.AUC(), prob, y) == pytest.approx(ref, rel=1e-12)
    assert _stream(M.AUC(), prob, np.eye(5)[y]) == pytest.approx(ref, rel=1e-12)


@pytest.fixture
def regression():
    rng = np.random.default_rng(3)
    y = rng.normal(5.0, 2.0, size=(200, 3))
    p = y + rng.normal(0, 0.7, size=y.shape)
    w = rng.uniform(0.1, 2.0, 200)
    return p, y, w


@pytest.mark.parametrize("weighted", [False, True])
def test_regression_metrics_match_sklearn(regression, weighted):
    p, y, w = regression
    w = w if weighted else None
    assert _stream(M.MeanAbsoluteError(), p, y, w) == pytest.approx(
        skm.mean_absolute_error(y, p, sample_weight=w), rel=1e-12
    )
    mse = skm.mean_squared_error(y, p, sample_weight=w)
    assert _stream(M.MeanSquaredError(), p, y, w) == pytest.approx(mse, rel=1e-12)
    assert _stream(M.RootMeanSquaredError(), p, y, w) == pytest.approx(np.sqrt(mse), rel=1e-12)
    assert _stream(M.R2Score(), p, y, w) == pytest.approx(
        skm.r2_score(y, p, sample_weight=w), rel=1e-10
    )
    assert _stream(M.R2Score(), p[:, 0], y[:, 0], w) == pytest.approx(
        skm.r2_score(y[:, 0], p[:, 0], sample_weight=w), rel=1e-10
    )


def test_r2_streaming_is_stable_with_a_large_offset():
    rng = np.random.default_rng(4)
    y = 1e6 + rng.normal(size=1000)
    p = y + 0.1 * rng.normal(size=1000)
    assert _stream(M.R2Score(), p, y, chunks=20) == pytest.approx(skm.r2_score(y, p), rel=1e-8)


def test_regression_shapes_are_aligned_not_broadcast():
    y_pred = np.array([[1.0], [2.0], [3.0]])
    y_true = np.array([1.0, 2.0, 5.0])  # (N,) vs (N, 1): must compare element-wise
    assert M.MeanAbsoluteError()(y_pred, y_true) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="do not match"):
        M.MeanSquaredError()(np.zeros((3, 2)), np.zeros(3))
    with pytest.raises(ValueError, match="3 samples but y_true has 2"):
        M.MeanSquaredError()(np.zeros(3), np.zeros(2))
    # constant target: sklearn's force_finite convention
    assert M.R2Score()(np.array([2.0, 2.0]), np.array([2.0, 2.0])) == 1.0
    assert M.R2Score()(np.array([1.0, 2.0]), np.array([2.0, 2.0])) == 0.0


def test_keras_regression_metrics_parity(keras):
    rng = np.random.default_rng(5)
    y = rng.normal(size=(16, 4)).astype(np.float32)
    p = rng.normal(size=(16, 4)).astype(np.float32)
    w = rng.uniform(0.5, 1.5, 16).astype(np.float32)
    for ours, theirs in [(M.MeanAbsoluteError(), keras.metrics.MeanAbsoluteError()),
                         (M.MeanSquaredError(), keras.metrics.MeanSquaredError()),
                         (M.RootMeanSquaredError(), keras.metrics.RootMeanSquaredError())]:  # fmt: skip
        theirs.update_state(y, p, sample_weight=w)
        assert ours(p, y, sample_weight=w) == pytest.approx(float(theirs.result()), rel=1e-5)


def test_inputs_as_tensors_and_reset():
    acc = M.SparseCategoricalAccuracy()
    acc.update(dl.tensor([[0.1, 0.9], [0.8, 0.2]]), dl.tensor(np.array([1, 1])))
    assert acc.result() == 0.5
    acc.reset()
    assert np.isnan(acc.result())
    m = M.Mean()
    m.update(np.array([1.0, 2.0]), sample_weight=np.array([3.0, 1.0]))
    assert m.result() == pytest.approx(1.25)


def test_sample_weight_errors():
    with pytest.raises(ValueError, match="one weight per sample"):
        M.MeanSquaredError()(np.zeros(3), np.zeros(3), sample_weight=np.ones(2))
    with pytest.raises(ValueError, match=">= 0"):
        M.MeanSquaredError()(np.zeros(2), np.zeros(2), sample_weight=np.array([1.0, -1.0]))
    with pytest.raises(ValueError, match="integer class labels"):
        M.SparseCategoricalAccuracy()(np.zeros((2, 3)), np.array([0.5, 1.0]))
    with pytest.raises(ValueError, match=">= 0"):
        M.ConfusionMatrix()(np.array([0, 1]), np.array([0, -1]))


def test_get_by_name_object_class_and_function():
    table = {
        "acc": M.Accuracy, "accuracy": M.Accuracy, "mae": M.MeanAbsoluteError,
        "mse": M.MeanSquaredError, "rmse": M.RootMeanSquaredError, "top_k": M.TopKCategoricalAccuracy,
        "sparse_top_k_categorical_accuracy": M.SparseTopKCategoricalAccuracy, "auc": M.AUC,
        "precision": M.Precision, "recall": M.Recall, "f1": M.F1Score, "r2": M.R2Score,
        "binary_accuracy": M.BinaryAccuracy, "confusion_matrix": M.ConfusionMatrix,
        "Mean_Absolute_Error": M.MeanAbsoluteError,
    }  # fmt: skip
    for name, cls in table.items():
        metric = M.get(name)
        assert type(metric) is cls and metric.name == name
    assert M.get("f1_weighted").average == "weighted"
    obj = M.Precision(average="macro")
    assert M.get(obj) is obj
    assert isinstance(M.get(M.R2Score), M.R2Score)

    class Duck:  # not a Metric subclass, but has the three methods: used as is
        def reset(self): ...
        def update(self, y_pred, y_true, sample_weight=None): ...
        def result(self):
            return 1.0

        def __call__(self, *a):
            raise AssertionError("must not be wrapped as a function")

    duck = Duck()
    assert M.get(duck) is duck
    assert M.get("top_k").k == 5

    def exact_match(y_pred, y_true):
        return (y_pred == y_true).astype(float)

    fn_metric = M.get(exact_match)
    assert fn_metric.name == "exact_match"
    assert fn_metric(np.array([1, 2, 3, 4]), np.array([1, 0, 3, 0])) == 0.5

    def over(y_true, y_pred):  # Keras' signature: called fn(y_true, y_pred)
        return (y_pred > y_true).astype(float)

    def over_ours(y_pred, y_true):
        return (y_pred > y_true).astype(float)

    p, t = np.array([2.0, 0.0, 5.0, 1.0]), np.array([1.0, 1.0, 1.0, 1.0])
    assert M.get(over)(p, t) == M.get(over_ours)(p, t) == 0.5
    batch_mean = M.get(lambda y_pred, y_true: float(np.mean(y_pred)))  # one number per batch
    batch_mean.update(np.array([1.0, 1.0]), t[:2])
    batch_mean.update(np.array([4.0]), t[:1])
    assert batch_mean.result() == 2.0  # (2 * 1 + 1 * 4) / 3: weighted by batch size
    with pytest.raises(ValueError, match="Did you mean 'accuracy'"):
        M.get("acuracy")
    with pytest.raises(ValueError, match="unknown metric 'foo'"):
        M.get("foo")
    with pytest.raises(TypeError, match="metric must be"):
        M.get(3)


def test_keras_method_names_take_keras_argument_order(multiclass):
    logits, y, w = multiclass
    ours = M.SparseCategoricalAccuracy()
    ours.update(logits, y, sample_weight=w)
    keras_style = M.SparseCategoricalAccuracy()
    keras_style.reset_state()
    keras_style.update_state(y, logits, sample_weight=w)  # Keras: y_true first
    assert keras_style.result() == ours.result()
    mean = M.Mean()
    mean.update_state(np.array([1.0, 3.0]), sample_weight=np.array([1.0, 3.0]))
    assert mean.result() == 2.5


def test_fit_accepts_keras_metric_objects(keras):
    """A keras.metrics object in fit(metrics=...) is fed (y_true, y_pred) and logged by its name."""
    d = dl.data.load_digits()
    x, y = (d.x[:400] / 16.0).astype(np.float32), d.y[:400]
    dl.manual_seed(0)
    model = dl.nn.Sequential(dl.nn.Linear(64, 32), dl.nn.ReLU(), dl.nn.Linear(32, 10))
    hist = dl.fit(model, x, y, loss="cross_entropy", optimizer="adam", epochs=2, verbose=0,
                  metrics=["accuracy", keras.metrics.SparseCategoricalAccuracy(name="k_acc"),
                           keras.metrics.SparseTopKCategoricalAccuracy(k=3, name="k_top3")],
                  validation_split=0.25, seed=0)  # fmt: skip
    for key in ("k_acc", "val_k_acc"):
        base = key.replace("k_acc", "accuracy")
        np.testing.assert_allclose(hist.history[key], hist.history[base], rtol=1e-6)
    assert all(a <= b for a, b in zip(hist.history["k_acc"], hist.history["k_top3"]))
    scores = dl.evaluate(model, x[:100], y[:100], metrics=[keras.metrics.SparseCategoricalAccuracy()],
                         verbose=0)  # fmt: skip
    expected = float((dl.predict(model, x[:100]).argmax(1) == y[:100]).mean())
    assert scores["sparse_categorical_accuracy"] == pytest.approx(expected)
