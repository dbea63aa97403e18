"""ONNX export of fastbp's estimators, through skl2onnx's converter API.

Importing this module registers a shape calculator and a converter for
``fastbp.MLPClassifier`` and ``fastbp.MLPRegressor`` with skl2onnx (its
public ``update_registered_converter``), so that ``skl2onnx.to_onnx(model,
X[:1])`` converts a fastbp estimator alone or inside a scikit-learn
pipeline, with skl2onnx's usual classifier options (``zipmap``,
``output_class_labels``). ``to_onnx`` below is the same call.

The graph is the network's forward pass, ŷ = g(hᴸ⁻¹(… h¹(x W¹ + b¹) …) Wᴸ + bᴸ),
in the input's float type (float32 or float64), one MatMul and Add per layer
and each activation as standard ONNX operators:

    relu Relu · tanh Tanh · logistic Sigmoid · leaky_relu LeakyRelu(0.01) ·
    elu max(a, 0) + min(eᵃ − 1, 0) · softplus max(a, 0) + log(1 + e^{−|a|}) ·
    gelu ½·a·(1 + erf(a/√2)) (Gelu from opset 20 for float32; float64 graphs
    evaluate erf in float32, onnxruntime having no float64 Erf) · silu a·Sigmoid(a)

Classifiers give ``label`` and ``probabilities`` as scikit-learn's predict
and predict_proba: the binary and multilabel labels are p > 0.5 exactly as
fastbp decides them. Regressors give (n_samples, n_outputs) (one output:
(n_samples, 1), skl2onnx's convention), with the exp output for Poisson.
Dropout is a training device and has no node.

Requires the ``onnx`` extra: ``pip install 'fastbp[onnx]'``.
"""

import numpy as np
from onnx import TensorProto
from skl2onnx import to_onnx as _skl2onnx_to_onnx
from skl2onnx import update_registered_converter
from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType, Int64TensorType, \
    StringTensorType

from ._estimators import MLPClassifier, MLPRegressor
from ._network import hidden_activations

__all__ = ["to_onnx"]

# The first opset with the Gelu operator.
GELU_OPSET = 20


def to_onnx(model, X_sample, target_opset=None, **kwargs):
    """The ONNX graph of a fitted fastbp estimator (or a pipeline holding one).

    ``skl2onnx.to_onnx`` with fastbp's converters registered; ``kwargs``
    (``options``, ``initial_types``, …) are passed on.

    Parameters
    ----------
    model : fitted MLPClassifier, MLPRegressor, or a scikit-learn pipeline
    X_sample : array of shape (n, n_features)
        Fixes the input's name and type: float32 input gives a float32 graph,
        float64 a float64 graph.
    target_opset : int or None
        The ONNX opset (None: skl2onnx's latest tested one).

    Returns
    -------
    onnx.ModelProto
    """
    return _skl2onnx_to_onnx(model, X_sample, target_opset=target_opset, **kwargs)


# ---------------------------------------------------------------------------
# Shapes
# ---------------------------------------------------------------------------
def _is_multilabel(model):
    return model.out_activation_ == "logistic" and model.n_outputs_ > 1


def _label_kind(classes):
    """'int' or 'str': how the labels travel in ONNX (int64 or string tensors)."""
    kind = np.asarray(classes).dtype.kind
    if kind in "biu":
        return "int"
    if kind in "UO" and all(isinstance(c, str) for c in classes):
        return "str"
    raise ValueError(
        f"ONNX labels are int64 or strings; this model's classes_ are {np.asarray(classes).dtype} "
        f"({list(classes)[:5]}…). Fit it on integer or string labels (e.g. with a "
        "LabelEncoder) to export it.")


def _float_type(operator):
    return DoubleTensorType if isinstance(operator.inputs[0].type, DoubleTensorType) \
        else FloatTensorType


def _no_class_labels(scope_or_container, model):
    """skl2onnx's 'nocl' option: labels as class indices (0 … n_classes − 1)."""
    return bool(scope_or_container.get_options(model, dict(nocl=False))["nocl"])


def _classifier_shapes(operator):
    model = operator.raw_operator
    n = operator.inputs[0].get_first_dimension()
    n_classes = len(model.classes_)
    indices = _no_class_labels(operator.scope_inst, model) if hasattr(
        operator, "scope_inst") else False
    label_type = Int64TensorType if indices or _label_kind(model.classes_) == "int" \
        else StringTensorType
    operator.outputs[0].type = label_type([n, n_classes] if _is_multilabel(model) else [n])
    operator.outputs[1].type = _float_type(operator)([n, n_classes])


def _regressor_shapes(operator):
    model = operator.raw_operator
    n = operator.inputs[0].get_first_dimension()
    operator.outputs[0].type = _float_type(operator)([n, model.n_outputs_])


# ---------------------------------------------------------------------------
# The graph
# ---------------------------------------------------------------------------
class _Graph:
    """Adds nodes and constants to skl2onnx's container under unique names."""

    def __init__(self, scope, operator, container):
        self.scope, self.operator, self.container = scope, operator, container
        self.double = isinstance(operator.inputs[0].type, DoubleTensorType)
        self.dtype = np.float64 if self.double else np.float32
        self.proto = TensorProto.DOUBLE if self.double else TensorProto.FLOAT

    def name(self, hint):
        return self.scope.get_unique_variable_name(hint)

    def constant(self, hint, values, proto=None, dtype=None):
        values = np.asarray(values, dtype=dtype or self.dtype)
        name = self.name(hint)
        self.container.add_initializer(name, proto or self.proto, list(values.shape),
                                       values.ravel().tolist())
        return name

    def node(self, op_type, inputs, hint, output=None, **attributes):
        output = output or self.name(hint)
        self.container.add_node(op_type, inputs, [output], name=self.scope.get_unique_operator_name(
            op_type), **attributes)
        return output

    def activation(self, name, a):
        """The nodes of h(a) for a hidden activation (or the output's identity/exp)."""
        op = {"relu": "Relu", "tanh": "Tanh", "logistic": "Sigmoid", "exp": "Exp"}.get(name)
        if op is not None:
            return self.node(op, [a], name)
        if name == "identity":
            return a
        if name == "leaky_relu":
            if not self.double:
                return self.node("LeakyRelu", [a], name, alpha=0.01)
            # onnxruntime has no float64 LeakyRelu: max(a, 0.01 a)
            return self.node("Max", [a, self.node("Mul", [a, self.constant("slope", 0.01)],
                                                  "leaky")], name)
        if name == "silu":  # a σ(a)
            return self.node("Mul", [a, self.node("Sigmoid", [a], "silu_sigmoid")], name)
        if name == "gelu":
            return self._gelu(a)
        one = self.constant("one", 1.0)
        zero = self.constant("zero", 0.0)
        if name == "elu":  # max(a, 0) + min(eᵃ − 1, 0)
            positive = self.node("Max", [a, zero], "elu_pos")
            expm1 = self.node("Sub", [self.node("Exp", [a], "elu_exp"), one], "elu_expm1")
            return self.node("Add", [positive, self.node("Min", [expm1, zero], "elu_neg")], name)
        if name == "softplus":  # max(a, 0) + log(1 + e^{−|a|}): no overflow
            tail = self.node("Exp", [self.node("Neg", [self.node("Abs", [a], "sp_abs")], "sp_neg")],
                             "sp_exp")
            log = self.node("Log", [self.node("Add", [tail, one], "sp_1p")], "sp_log")
            return self.node("Add", [self.node("Max", [a, zero], "sp_pos"), log], name)
        raise ValueError(f"no ONNX form for the activation {name!r}")

    def _gelu(self, a):
        """gelu(a): the Gelu operator (float32, opset ≥ 20), else ½ a (1 + erf(a/√2))."""
        name = "gelu"
        if self.container.target_opset >= GELU_OPSET and not self.double:
            return self.node("Gelu", [a], name, op_domain="", op_version=GELU_OPSET)
        # ½ a (1 + erf(a/√2)); onnxruntime's Erf is float32 only, so a
        # float64 graph evaluates erf in float32 (relative error ~1e-7)
        scaled = self.node("Mul", [a, self.constant("inv_sqrt2", 1 / np.sqrt(2))], "gelu_s")
        if self.double:
            scaled = self.node("Cast", [scaled], "gelu_s32", to=TensorProto.FLOAT)
        erf = self.node("Erf", [scaled], "gelu_erf")
        if self.double:
            erf = self.node("Cast", [erf], "gelu_erf64", to=TensorProto.DOUBLE)
        cdf = self.node("Mul", [self.node("Add", [erf, self.constant("one", 1.0)], "gelu_1p"),
                                self.constant("half", 0.5)], "gelu_cdf")
        return self.node("Mul", [a, cdf], name)

    def network(self, model, output_activation):
        """The network's output as a tensor name: ŷ, or aᴸ if not ``output_activation``."""
        X = self.operator.inputs[0].full_name
        if not isinstance(self.operator.inputs[0].type, (FloatTensorType, DoubleTensorType)):
            X = self.node("Cast", [X], "x_float", to=TensorProto.FLOAT)
        network = model._current_network()
        names = hidden_activations(network.activation, len(network.units) - 2)
        z = X
        for l, (W, b) in enumerate(zip(network.coefs, network.intercepts)):
            a = self.node("MatMul", [z, self.constant(f"coef{l}", W)], f"matmul{l}")
            a = self.node("Add", [a, self.constant(f"intercept{l}", b)], f"a{l + 1}")
            if l < len(names):
                z = self.activation(names[l], a)
            else:
                z = self.activation(network.out_activation, a) if output_activation else a
        return z


def _convert_regressor(scope, operator, container):
    graph = _Graph(scope, operator, container)
    out = graph.network(operator.raw_operator, output_activation=True)
    graph.node("Identity", [out], "variable", output=operator.outputs[0].full_name)


def _convert_classifier(scope, operator, container):
    model = operator.raw_operator
    graph = _Graph(scope, operator, container)
    a = graph.network(model, output_activation=False)  # aᴸ, decoded below
    label_out, proba_out = operator.outputs[0].full_name, operator.outputs[1].full_name

    def labels(index):
        """label = classes_[index], as int64 or strings (the index itself with 'nocl')."""
        if _no_class_labels(container, model):
            graph.node("Identity", [index], "label", output=label_out)
            return
        classes = np.asarray(model.classes_)
        if _label_kind(classes) == "int":
            class_tensor = graph.constant("classes", classes.astype(np.int64), TensorProto.INT64,
                                          np.int64)
        else:
            class_tensor = graph.name("classes")
            container.add_initializer(class_tensor, TensorProto.STRING, [len(classes)],
                                      [str(c).encode("utf-8") for c in classes])
        graph.node("Gather", [class_tensor, index], "label", output=label_out, axis=0)

    if model.out_activation_ == "softmax":
        graph.node("Softmax", [a], "probabilities", output=proba_out, axis=1)
        labels(graph.node("ArgMax", [proba_out], "index", axis=1, keepdims=0))
    elif _is_multilabel(model):  # one indicator per label: p > 0.5
        graph.node("Sigmoid", [a], "probabilities", output=proba_out)
        graph.node("Cast", [graph.node("Greater", [proba_out, graph.constant("half", 0.5)],
                                       "above")], "label", output=label_out, to=TensorProto.INT64)
    else:  # binary: one logistic output p, probabilities [1 − p, p], label p > 0.5
        p = graph.node("Sigmoid", [a], "p")
        one_minus = graph.node("Sub", [graph.constant("one", 1.0), p], "q")
        graph.node("Concat", [one_minus, p], "probabilities", output=proba_out, axis=1)
        above = graph.node("Greater", [p, graph.constant("half", 0.5)], "above")
        column = graph.constant("axis", [1], TensorProto.INT64, np.int64)
        labels(graph.node("Cast", [graph.node("Squeeze", [above, column], "above_1d")], "index",
                          to=TensorProto.INT64))


_CLASSIFIER_OPTIONS = {"zipmap": [True, False, "columns"], "output_class_labels": [False, True],
                       "nocl": [False, True]}

update_registered_converter(MLPClassifier, "FastbpMLPClassifier", _classifier_shapes,
                            _convert_classifier, options=_CLASSIFIER_OPTIONS)
update_registered_converter(MLPRegressor, "FastbpMLPRegressor", _regressor_shapes,
                            _convert_regressor)
