"""Fitted models both ways between fastbp and ``sklearn.neural_network``.

``to_sklearn`` gives the scikit-learn estimator with the same parameters,
weights and fitted attributes, so it predicts the same; ``from_sklearn``
takes a fitted scikit-learn MLP over (its weights, classes and history),
so trained models migrate too. What scikit-learn's MLPs cannot hold (fastbp's
activations, losses, dropout, …) is refused with one error naming it.
"""

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ._network import Network, hidden_activations

# scikit-learn's activations and regression losses
SKLEARN_ACTIVATIONS = ("identity", "logistic", "tanh", "relu")
SKLEARN_LOSSES = ("squared_error", "poisson")
# The fitted history both estimators keep (when set)
_HISTORY = ("n_iter_", "t_", "loss_", "best_loss_", "loss_curve_", "validation_scores_",
            "best_validation_score_")


def _sklearn_class(cls):
    """scikit-learn's class for the fastbp estimator class ``cls``."""
    from sklearn import neural_network

    from ._estimators import MLPClassifier

    return neural_network.MLPClassifier if issubclass(cls, MLPClassifier) \
        else neural_network.MLPRegressor


def _beyond_sklearn(params):
    """The settings scikit-learn's MLP has no place for, as 'name=value' strings."""
    beyond = []
    if isinstance(params["activation"], str):
        if params["activation"] not in SKLEARN_ACTIVATIONS:
            beyond.append(f"activation={params['activation']!r}")
    else:
        names = set(params["activation"])
        if len(names) > 1 or not names <= set(SKLEARN_ACTIVATIONS):
            beyond.append(f"activation={params['activation']!r}")
    if params.get("loss", "squared_error") not in SKLEARN_LOSSES and "loss" in params:
        beyond.append(f"loss={params['loss']!r}")
    dropout = params["dropout"]
    if np.any(np.asarray(dropout, dtype=float) != 0):
        beyond.append(f"dropout={dropout!r}")
    if params["learning_rate"] == "cosine":
        beyond.append("learning_rate='cosine'")
    for name in ("max_grad_norm", "scoring", "compute_dtype"):
        if params[name] is not None:
            beyond.append(f"{name}={params[name]!r}")
    if params.get("class_weight") is not None:
        beyond.append(f"class_weight={params['class_weight']!r}")
    return beyond


def to_sklearn(est):
    """The fitted ``sklearn.neural_network`` estimator equal to ``est``.

    Raises
    ------
    ValueError
        Naming every setting scikit-learn's MLPs cannot hold.
    """
    check_is_fitted(est)
    sk_class = _sklearn_class(type(est))
    params = est.get_params(deep=False)
    beyond = _beyond_sklearn(params)
    if beyond:
        raise ValueError(f"scikit-learn's {sk_class.__name__} cannot hold {', '.join(beyond)}; "
                         "only fastbp can load this model (fastbp.save / fastbp.load).")
    sk_params = {name: params[name] for name in sk_class().get_params() if name in params}
    if not isinstance(sk_params["activation"], str):
        sk_params["activation"] = sk_params["activation"][0]  # one name for every layer
    model = sk_class(**sk_params)
    network = est._current_network()
    model.coefs_ = [c.copy() for c in network.coefs]
    model.intercepts_ = [b.copy() for b in network.intercepts]
    model.n_features_in_ = est.n_features_in_
    if hasattr(est, "feature_names_in_"):
        model.feature_names_in_ = est.feature_names_in_.copy()
    model.n_layers_, model.n_outputs_ = est.n_layers_, est.n_outputs_
    model.out_activation_ = est.out_activation_
    for name in _HISTORY:
        if hasattr(est, name):
            value = getattr(est, name)
            setattr(model, name, list(value) if isinstance(value, list) else value)
    if hasattr(est, "classes_"):
        from sklearn.base import clone

        # scikit-learn's predict decodes through its own binarizer attribute
        model._label_binarizer = clone(est._label_binarizer).fit(
            np.eye(len(est.classes_), dtype=int) if est._label_binarizer.y_type_.startswith(
                "multilabel") else est.classes_)
        model.classes_ = model._label_binarizer.classes_
    return model


def _target_type(sk_model):
    """binary, multiclass or multilabel-indicator, from the fitted output layer."""
    if sk_model.out_activation_ == "softmax":
        return "multiclass"
    return "binary" if sk_model.n_outputs_ == 1 else "multilabel-indicator"


def from_sklearn(cls, sk_model):
    """A fastbp ``cls`` holding a fitted scikit-learn MLP's parameters, weights and history."""
    expected = _sklearn_class(cls)
    if not isinstance(sk_model, expected):
        raise TypeError(f"{cls.__name__}.from_sklearn expects a fitted "
                        f"sklearn.neural_network.{expected.__name__}; got "
                        f"{type(sk_model).__name__}.")
    check_is_fitted(sk_model)
    params = sk_model.get_params(deep=False)
    coefs = [np.asarray(c) for c in sk_model.coefs_]
    intercepts = [np.asarray(b) for b in sk_model.intercepts_]
    units = [coefs[0].shape[0]] + [c.shape[1] for c in coefs]
    network = Network.from_arrays(units, coefs, intercepts,
                                  hidden_activations(params["activation"], len(units) - 2),
                                  sk_model.out_activation_)
    history = {name: getattr(sk_model, name) for name in _HISTORY if hasattr(sk_model, name)}
    state = {"network": network, "n_features_in_": sk_model.n_features_in_,
             "feature_names_in_": getattr(sk_model, "feature_names_in_", None),
             "history": history, "optimizer": None}
    if hasattr(sk_model, "classes_"):
        state.update(classes_=np.asarray(sk_model.classes_), target_type=_target_type(sk_model))
    return cls._from_fitted_state(params, state)
