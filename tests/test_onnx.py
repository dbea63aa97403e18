"""ONNX export (fastbp.onnx) checked with a real onnxruntime, and models both
ways between fastbp and scikit-learn (to_sklearn / from_sklearn)."""

import warnings

import numpy as np
import pytest
from sklearn import neural_network
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from fastbp import MLPClassifier, MLPRegressor

onnxruntime = pytest.importorskip("onnxruntime")
skl2onnx = pytest.importorskip("skl2onnx")
import fastbp.onnx  # noqa: E402  (registers the converters)

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

HIDDEN = ["identity", "logistic", "tanh", "relu", "leaky_relu", "elu", "softplus", "gelu", "silu",
          ("tanh", "gelu"), ("silu", "leaky_relu")]
# float32 tolerance, for float32 and float64 graphs alike
TOL = dict(rtol=1e-4, atol=1e-6)


def _session(onx):
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # no warnings about unused constants
    return onnxruntime.InferenceSession(onx.SerializeToString(), options,
                                        providers=["CPUExecutionProvider"])


def _run(model, X, options=None, target_opset=None):
    onx = fastbp.onnx.to_onnx(model, X[:1], target_opset=target_opset, options=options)
    session = _session(onx)
    return session.run(None, {session.get_inputs()[0].name: X}), onx


def _targets(kind, rng, n):
    if kind == "binary":
        return rng.integers(0, 2, n)
    if kind == "multiclass-str":
        return rng.choice(["cat", "dog", "emu"], n)
    if kind == "multiclass-int":
        return rng.choice([-3, 5, 7, 11], n)
    if kind == "binary-str":
        return rng.choice(["no", "yes"], n)
    if kind == "multilabel":
        return rng.integers(0, 2, (n, 3))
    raise ValueError(kind)


def _label_parity(model, X, label):
    expected = model.predict(X)
    return np.array_equal(np.asarray(label), expected)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("hidden", HIDDEN, ids=lambda h: h if isinstance(h, str) else "+".join(h))
@pytest.mark.parametrize("kind", ["binary", "binary-str", "multiclass-str", "multiclass-int",
                                  "multilabel"])
def test_classifier_labels_and_probabilities(kind, hidden, dtype, rng):
    X = rng.normal(size=(150, 5)).astype(dtype)
    sizes = (7,) if isinstance(hidden, str) else (7, 6)
    model = MLPClassifier(sizes, activation=hidden, max_iter=30, random_state=0).fit(
        X, _targets(kind, rng, 150))
    (label, proba), onx = _run(model, X, options={id(model): {"zipmap": False}})
    assert onx.graph.input[0].type.tensor_type.elem_type == (1 if dtype == np.float32 else 11)
    assert _label_parity(model, X, label)
    np.testing.assert_allclose(proba, model.predict_proba(X), **TOL)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("hidden", HIDDEN, ids=lambda h: h if isinstance(h, str) else "+".join(h))
@pytest.mark.parametrize("n_outputs", [1, 3])
def test_regressor_outputs_have_the_right_shape(n_outputs, hidden, dtype, rng):
    X = rng.normal(size=(120, 4)).astype(dtype)
    y = rng.normal(size=(120, n_outputs)) if n_outputs > 1 else rng.normal(size=120)
    sizes = (7,) if isinstance(hidden, str) else (7, 6)
    model = MLPRegressor(hidden_layer_sizes=sizes, activation=hidden, max_iter=30,
                         random_state=0).fit(X, y)
    (out,), _ = _run(model, X)
    assert out.shape == (120, n_outputs)  # (n, 1) for one output: skl2onnx's convention
    np.testing.assert_allclose(out.reshape(model.predict(X).shape), model.predict(X), **TOL)


@pytest.mark.parametrize("loss", ["poisson", "huber", "absolute_error"])
def test_regressor_losses(loss, rng):
    X = rng.normal(size=(120, 4))
    y = rng.poisson(2.0, 120).astype(float)
    model = MLPRegressor(loss=loss, hidden_layer_sizes=(6,), max_iter=30, random_state=0).fit(X, y)
    (out,), onx = _run(model, X)
    np.testing.assert_allclose(out.ravel(), model.predict(X), **TOL)
    if loss == "poisson":
        assert "Exp" in {node.op_type for node in onx.graph.node}
        assert (out > 0).all()


def test_no_hidden_layer_and_dropout_at_inference(rng):
    X = rng.normal(size=(80, 3))
    y = rng.integers(0, 3, 80)
    linear = MLPClassifier(hidden_layer_sizes=(), max_iter=20, random_state=0).fit(X, y)
    (label, proba), _ = _run(linear, X, options={id(linear): {"zipmap": False}})
    assert _label_parity(linear, X, label)
    np.testing.assert_allclose(proba, linear.predict_proba(X), **TOL)
    dropped = MLPClassifier((8, 8), dropout=0.5, max_iter=20, random_state=0).fit(X, y)
    (label, proba), onx = _run(dropped, X, options={id(dropped): {"zipmap": False}})
    np.testing.assert_allclose(proba, dropped.predict_proba(X), **TOL)
    assert not {"Dropout", "RandomUniformLike"} & {node.op_type for node in onx.graph.node}


def test_zipmap_default_and_output_class_labels(rng):
    X = rng.normal(size=(50, 4)).astype(np.float32)
    y = rng.choice(["a", "b", "c"], 50)
    model = MLPClassifier((6,), max_iter=20, random_state=0).fit(X, y)
    (label, proba_maps), _ = _run(model, X)  # skl2onnx's default: a ZipMap of dicts
    expected = model.predict_proba(X)
    assert _label_parity(model, X, label)
    for row, probabilities in zip(proba_maps, expected):
        assert sorted(row) == ["a", "b", "c"]
        np.testing.assert_allclose([row[c] for c in model.classes_], probabilities, **TOL)
    outputs, _ = _run(model, X, options={id(model): {"zipmap": False,
                                                     "output_class_labels": True}})
    assert list(outputs[2]) == ["a", "b", "c"]


def test_gelu_operator_or_exact_decomposition_by_opset(rng):
    X = rng.normal(size=(60, 4)).astype(np.float32)
    model = MLPRegressor(hidden_layer_sizes=(8,), activation="gelu", max_iter=20,
                         random_state=0).fit(X, rng.normal(size=60))
    for opset, op in ((20, "Gelu"), (13, "Erf")):
        (out,), onx = _run(model, X, target_opset=opset)
        assert op in {node.op_type for node in onx.graph.node}
        np.testing.assert_allclose(out.ravel(), model.predict(X), **TOL)


def test_inside_a_scikit_learn_pipeline(rng):
    X = rng.normal(size=(100, 5)) * [1, 10, 100, 0.1, 1]
    y = rng.integers(0, 2, 100)
    pipeline = make_pipeline(StandardScaler(), MLPClassifier((8,), activation="silu",
                                                             max_iter=40, random_state=0))
    pipeline.fit(X, y)
    onx = skl2onnx.to_onnx(pipeline, X[:1].astype(np.float32),
                           options={id(pipeline[-1]): {"zipmap": False}})
    session = _session(onx)
    label, proba = session.run(None, {session.get_inputs()[0].name: X.astype(np.float32)})
    np.testing.assert_array_equal(label, pipeline.predict(X.astype(np.float32)))
    np.testing.assert_allclose(proba, pipeline.predict_proba(X), rtol=1e-4, atol=1e-5)


def test_labels_onnx_cannot_carry_are_refused(rng):
    X = rng.normal(size=(40, 3))
    model = MLPClassifier((4,), max_iter=5, random_state=0).fit(X, rng.choice([0.0, 1.0], 40))
    with pytest.raises(ValueError, match="int64 or strings"):
        fastbp.onnx.to_onnx(model, X[:1])


def test_scikit_learns_own_mlp_still_converts(rng):
    X = rng.normal(size=(40, 3)).astype(np.float32)
    sk = neural_network.MLPClassifier((4,), max_iter=5, random_state=0).fit(
        X, rng.integers(0, 3, 40))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        onx = skl2onnx.to_onnx(sk, X[:1], options={id(sk): {"zipmap": False}})
    session = _session(onx)
    label, _ = session.run(None, {session.get_inputs()[0].name: X})
    np.testing.assert_array_equal(label, sk.predict(X))


# -- scikit-learn both ways ------------------------------------------------
@pytest.mark.parametrize("kind", ["binary-str", "multiclass-int", "multilabel", "regression",
                                  "poisson"])
def test_to_sklearn_and_back_round_trip_exactly(kind, rng):
    X = rng.normal(size=(90, 4))
    if kind in ("regression", "poisson"):
        y = rng.poisson(2.0, 90).astype(float) if kind == "poisson" else rng.normal(size=(90, 2))
        model = MLPRegressor(loss="poisson" if kind == "poisson" else "squared_error",
                             hidden_layer_sizes=(6, 5), activation="tanh", max_iter=20,
                             random_state=0).fit(X, y)
    else:
        model = MLPClassifier((6, 5), activation=("relu", "relu"), max_iter=20,
                              random_state=0).fit(X, _targets(kind, rng, 90))
    sk = model.to_sklearn()
    assert type(sk).__module__.startswith("sklearn.neural_network")
    assert sk.activation == ("tanh" if kind in ("regression", "poisson") else "relu")
    for a, b in zip(sk.coefs_ + sk.intercepts_, model.coefs_ + model.intercepts_):
        np.testing.assert_array_equal(a, b)
    if kind in ("regression", "poisson"):  # the same maths, other roundings
        np.testing.assert_allclose(sk.predict(X), model.predict(X), rtol=1e-12)
    else:
        np.testing.assert_array_equal(sk.predict(X), model.predict(X))
    if hasattr(sk, "predict_proba"):
        np.testing.assert_allclose(sk.predict_proba(X), model.predict_proba(X), rtol=1e-12)
    assert sk.loss_curve_ == model.loss_curve_ and sk.n_iter_ == model.n_iter_
    back = type(model).from_sklearn(sk)
    for a, b in zip(back.coefs_ + back.intercepts_, model.coefs_ + model.intercepts_):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(back.predict(X), model.predict(X))
    assert back.loss_curve_ == model.loss_curve_


def test_from_sklearn_takes_a_trained_model_over(rng):
    X = rng.normal(size=(120, 4))
    y = rng.choice(["x", "y", "z"], 120)
    sk = neural_network.MLPClassifier((10,), activation="logistic", max_iter=50,
                                      random_state=0).fit(X, y)
    model = MLPClassifier.from_sklearn(sk)
    assert model.get_params()["activation"] == "logistic"
    np.testing.assert_array_equal(model.predict(X), sk.predict(X))
    np.testing.assert_allclose(model.predict_proba(X), sk.predict_proba(X), rtol=1e-12)
    model.partial_fit(X, y)  # training continues from the migrated weights
    assert model.n_iter_ >= 1
    with pytest.raises(TypeError, match="expects a fitted"):
        MLPRegressor.from_sklearn(sk)


def test_to_sklearn_refuses_what_scikit_learn_cannot_hold(rng):
    X = rng.normal(size=(40, 3))
    y = rng.integers(0, 2, 40)
    for params, named in ((dict(activation="gelu"), "activation='gelu'"),
                          (dict(dropout=0.2), "dropout=0.2"),
                          (dict(activation=("relu", "tanh"), hidden_layer_sizes=(4, 4)),
                           "activation=('relu', 'tanh')"),
                          (dict(learning_rate="cosine"), "learning_rate='cosine'")):
        model = MLPClassifier(**{"hidden_layer_sizes": (4,), "max_iter": 3, **params}).fit(X, y)
        with pytest.raises(ValueError, match=named.replace("(", r"\(").replace(")", r"\)")):
            model.to_sklearn()
    huber = MLPRegressor(loss="huber", hidden_layer_sizes=(4,), max_iter=3).fit(X, y * 1.0)
    with pytest.raises(ValueError, match="loss='huber'"):
        huber.to_sklearn()
