"""The ``fastbp`` command (also ``python -m fastbp``).

``fastbp train`` trains an MLPClassifier on scikit-learn's bundled digits
data set and prints the test accuracy and the time taken.
"""

import argparse
import sys
import time
import warnings


def _parse_hidden(text):
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected sizes like 100,50; got {text!r}") from None


def _train(args):
    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import train_test_split

    from . import MLPClassifier

    X, y = load_digits(return_X_y=True)
    X = X.astype(np.float32) / 16.0
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=args.test_size, random_state=args.seed, stratify=y)
    model = MLPClassifier(hidden_layer_sizes=args.hidden, solver=args.solver,
                          max_iter=args.epochs, random_state=args.seed, n_jobs=args.jobs)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        start = time.perf_counter()
        model.fit(X_train, y_train)
        elapsed = time.perf_counter() - start
    print(f"data: digits, {X_train.shape[0]} train / {X_test.shape[0]} test samples, "
          f"{X.shape[1]} features, {len(model.classes_)} classes")
    print(f"model: MLPClassifier(hidden_layer_sizes={args.hidden}, solver={args.solver!r}), "
          f"{model.n_iter_} iterations")
    print(f"train accuracy: {model.score(X_train, y_train):.4f}")
    print(f"test accuracy:  {model.score(X_test, y_test):.4f}")
    print(f"fit time: {elapsed:.3f} s (includes compiling or loading the kernels on first use)")
    for warning in caught:
        print(f"note: {str(warning.message).splitlines()[0]}")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="fastbp", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command")
    train = commands.add_parser("train", help="train on the digits data set and report accuracy")
    train.add_argument("--hidden", type=_parse_hidden, default=(100,),
                       help="hidden layer sizes, e.g. 100,50 (default: 100)")
    train.add_argument("--solver", choices=["adam", "sgd", "lbfgs"], default="adam")
    train.add_argument("--epochs", type=int, default=200, help="max_iter (default: 200)")
    train.add_argument("--test-size", type=float, default=0.25)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--jobs", type=int, default=None, help="threads (default: all cores)")
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ("train", "-h", "--help"):
        argv = ["train", *argv]  # train is the default command
    return _train(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
