"""Side by side with scikit-learn: test accuracy and fit time on its bundled data sets.

    python scripts/compare_sklearn.py [--max-iter 200] [--seed 0]

Same settings for both (defaults otherwise), standardised features, a stratified
70/30 split. Each fit is run after a warm-up fit, so fastbp's compile time is
not counted; it is reported once at the start.
"""

import argparse
import time
import warnings

from sklearn import datasets
from sklearn import neural_network as sk
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import fastbp


def load(name, seed):
    X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=seed,
                                                        stratify=y)
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


def timed_fit(estimator, X, y):
    # Let the other library's idle threads go to sleep first: OpenBLAS threads
    # spin for about 0.1 s after a call and would slow whichever fit runs next.
    time.sleep(0.3)
    start = time.perf_counter()
    estimator.fit(X, y)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-iter", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    warnings.simplefilter("ignore", ConvergenceWarning)

    X_train, _, y_train, _ = load("iris", args.seed)
    start = time.perf_counter()
    for solver in ("adam", "sgd", "lbfgs"):
        fastbp.MLPClassifier(solver=solver, max_iter=2).fit(X_train, y_train)
    print(f"fastbp first fits (compile or cache load): {time.perf_counter() - start:.2f} s\n")

    header = (f"{'data set':<14}{'solver':<7}{'fastbp acc':>11}{'sklearn acc':>12}"
              f"{'fastbp s':>10}{'sklearn s':>10}{'speed-up':>9}")
    print(header)
    print("-" * len(header))
    for name in ("digits", "iris", "wine", "breast_cancer"):
        X_train, X_test, y_train, y_test = load(name, args.seed)
        for solver in ("adam", "sgd", "lbfgs"):
            params = dict(solver=solver, max_iter=args.max_iter, random_state=args.seed)
            ours, theirs = fastbp.MLPClassifier(**params), sk.MLPClassifier(**params)
            t_ours, t_theirs = timed_fit(ours, X_train, y_train), timed_fit(theirs, X_train, y_train)
            print(f"{name:<14}{solver:<7}{ours.score(X_test, y_test):>11.4f}"
                  f"{theirs.score(X_test, y_test):>12.4f}{t_ours:>10.3f}{t_theirs:>10.3f}"
                  f"{t_theirs / t_ours:>8.1f}×")


if __name__ == "__main__":
    main()
