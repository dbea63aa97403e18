"""Train on digits with early stopping, print progress, save and reload the model.

    python scripts/train_digits_early_stopping.py [--out digits.npz]
"""

import argparse
import time

from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import fastbp


def report(estimator, info):
    score = info["validation_score"]
    print(f"epoch {info['epoch']:3d}  loss {info['loss']:.4f}  validation accuracy {score:.4f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="digits-model.npz")
    args = parser.parse_args()

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=0)
    scaler = StandardScaler().fit(X_train)
    model = fastbp.MLPClassifier(hidden_layer_sizes=(128, 64), early_stopping=True,
                                 validation_fraction=0.15, n_iter_no_change=8,
                                 learning_rate_init=3e-3, max_iter=500, random_state=0,
                                 callbacks=[report])
    start = time.perf_counter()
    model.fit(scaler.transform(X_train), y_train)
    print(f"stopped after {model.n_iter_} epochs in {time.perf_counter() - start:.2f} s; "
          f"best validation accuracy {model.best_validation_score_:.4f}")
    print(f"test accuracy: {model.score(scaler.transform(X_test), y_test):.4f}")

    fastbp.save(model, args.out)
    reloaded = fastbp.load(args.out)
    same = (reloaded.predict(scaler.transform(X_test)) == model.predict(scaler.transform(X_test))).all()
    print(f"saved to {args.out}; reloaded model predicts identically: {same}")


if __name__ == "__main__":
    main()
