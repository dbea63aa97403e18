"""scikit-learn's own estimator checks, with no expected failures.

Both estimators are checked with their defaults (adam; max_iter=100 as in
scikit-learn's own test suite) and with the full-batch L-BFGS solver.
"""

from sklearn.utils.estimator_checks import parametrize_with_checks

from fastbp import MLPClassifier, MLPRegressor

ESTIMATORS = [
    MLPClassifier(max_iter=100),
    MLPRegressor(max_iter=100),
    MLPClassifier(solver="lbfgs", max_iter=100),
    MLPRegressor(solver="lbfgs", max_iter=200),
]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
