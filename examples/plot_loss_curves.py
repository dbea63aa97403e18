"""
Loss and validation curves, with your own validation set
========================================================

``fit(X, y, X_val=..., y_val=...)`` with ``early_stopping=True`` monitors the
given validation set (every training row trains), and ``scoring='loss'``
stops on the validation loss instead of the accuracy. ``loss_curve_`` holds
the training objective per epoch, ``validation_scores_`` the monitored score.
"""

import warnings

from sklearn.exceptions import ConvergenceWarning

# short trainings for a quick build: not converging is expected
warnings.filterwarnings("ignore", category=ConvergenceWarning)

import matplotlib.pyplot as plt
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from fastbp import MLPClassifier

X, y = load_digits(return_X_y=True)
X_train, X_val, y_train, y_val = train_test_split(X / 16, y, random_state=0, stratify=y)

fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
for scoring in (None, "loss"):
    model = MLPClassifier((64,), early_stopping=True, scoring=scoring, n_iter_no_change=8,
                          max_iter=150, random_state=0)
    model.fit(X_train, y_train, X_val=X_val, y_val=y_val)
    label = "accuracy" if scoring is None else "negative validation loss"
    left.plot(model.loss_curve_, label=f"stopping on {label}")
    right.plot(model.validation_scores_, label=label)
    print(f"scoring={scoring!r}: {model.n_iter_} epochs, validation accuracy "
          f"{model.score(X_val, y_val):.4f}")
left.set(xlabel="epoch", ylabel="training loss", yscale="log")
right.set(xlabel="epoch", ylabel="validation score")
left.legend()
right.legend()
fig.tight_layout()
