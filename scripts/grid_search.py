"""GridSearchCV over hidden sizes and alpha, on a scikit-learn pipeline.

    python scripts/grid_search.py [--jobs 1]

fastbp estimators are ordinary scikit-learn estimators: pipelines, grid
search and cross-validation work unchanged.
"""

import argparse
import time
import warnings

from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import fastbp


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1, help="GridSearchCV n_jobs")
    args = parser.parse_args()
    warnings.simplefilter("ignore", ConvergenceWarning)

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=0)
    pipeline = make_pipeline(StandardScaler(),
                             fastbp.MLPClassifier(max_iter=100, random_state=0))
    grid = {"mlpclassifier__hidden_layer_sizes": [(32,), (128,), (128, 64)],
            "mlpclassifier__alpha": [1e-4, 1e-2, 1.0]}
    search = GridSearchCV(pipeline, grid, cv=3, n_jobs=args.jobs)
    start = time.perf_counter()
    search.fit(X_train, y_train)
    print(f"{len(search.cv_results_['params'])} settings x 3 folds in "
          f"{time.perf_counter() - start:.1f} s")
    for params, mean, std in zip(search.cv_results_["params"],
                                 search.cv_results_["mean_test_score"],
                                 search.cv_results_["std_test_score"]):
        print(f"  {params['mlpclassifier__hidden_layer_sizes']!s:<10} "
              f"alpha={params['mlpclassifier__alpha']:<7g} {mean:.4f} ± {std:.4f}")
    print(f"best: {search.best_params_}")
    print(f"test accuracy of the refitted best pipeline: {search.score(X_test, y_test):.4f}")


if __name__ == "__main__":
    main()
