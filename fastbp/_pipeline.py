"""The command's model: scikit-learn's preprocessing in front of a fastbp network.

Real tables have string columns, missing cells and features on every
scale; an MLP needs numbers of unit scale. ``with_preprocessing`` puts
scikit-learn's own transformers in front of the network, so that the saved
model (a skops file) applies them to raw files at predict time:

- numeric columns: missing values imputed with the median, then standardised;
- other columns (strings, booleans, categories): missing values imputed with
  the most frequent value, then one-hot encoded (categories unseen in
  training are all zeros at predict);
- a regression target: standardised for training and mapped back for
  prediction (``TransformedTargetRegressor``), as unscaled targets leave the
  network's output layer far from its initial scale.
"""


def column_kinds(X):
    """(numeric column names, other column names) of a DataFrame."""
    numeric = list(X.select_dtypes("number").columns)
    return numeric, [c for c in X.columns if c not in numeric]


def with_preprocessing(network, X, task):
    """``network`` behind imputation, scaling and one-hot encoding fitted to ``X``'s kind.

    Parameters
    ----------
    network : MLPClassifier or MLPRegressor
    X : DataFrame, ndarray or sparse matrix of shape (n_samples, n_features)
        Tables are handled by column kind; arrays are all numeric.
    task : {'classify', 'regress'}

    Returns
    -------
    model : Pipeline
        Steps ``preprocess`` and ``model``; for regression the latter is a
        ``TransformedTargetRegressor`` holding the network.
    """
    import scipy.sparse as sp
    from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    if hasattr(X, "columns"):
        numeric, other = column_kinds(X)
        parts = []
        if numeric:
            parts.append(("numeric", make_pipeline(SimpleImputer(strategy="median"),
                                                   StandardScaler()), numeric))
        if other:
            parts.append(("categorical", make_pipeline(
                SimpleImputer(strategy="most_frequent"),
                OneHotEncoder(handle_unknown="ignore")), other))
        preprocess = ColumnTransformer(parts)
    else:
        sparse = sp.issparse(X)
        # sparse input stays sparse: scaled, not centred
        preprocess = make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True),
                                   StandardScaler(with_mean=not sparse))
    if task == "regress":
        network = TransformedTargetRegressor(regressor=network, transformer=StandardScaler(),
                                             check_inverse=False)
    return Pipeline([("preprocess", preprocess), ("model", network)])


def network_of(model):
    """The fastbp estimator inside a model the command built or loaded."""
    if hasattr(model, "steps"):
        model = model.steps[-1][1]
    if hasattr(model, "regressor"):  # TransformedTargetRegressor: the fitted copy, if any
        return getattr(model, "regressor_", model.regressor)
    return model


def describe(model):
    """One line on what a pipeline does before the network (None for a bare network)."""
    if not hasattr(model, "steps"):
        return None
    preprocess = model.named_steps.get("preprocess")
    parts = []
    if preprocess is not None and hasattr(preprocess, "transformers_"):
        for name, _, columns in preprocess.transformers_:
            if name == "numeric":
                parts.append(f"{len(columns)} numeric columns imputed (median) and standardised")
            elif name == "categorical":
                parts.append(f"{len(columns)} categorical columns imputed (most frequent) and "
                             "one-hot encoded")
    elif preprocess is not None:
        parts.append("features imputed (median) and standardised")
    if hasattr(model.steps[-1][1], "regressor"):
        parts.append("target standardised")
    return "; ".join(parts) if parts else None


__all__ = ["column_kinds", "describe", "network_of", "with_preprocessing"]
