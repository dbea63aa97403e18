"""fastbp: multi-layer perceptrons trained by compiled backpropagation on CPU cores.

``MLPClassifier`` and ``MLPRegressor`` are drop-in replacements for
scikit-learn's. Importing fastbp compiles nothing: kernels compile (or load
from Numba's on-disk cache) on first use.
"""

from ._estimators import MLPClassifier, MLPRegressor

__version__ = "0.1.0"

__all__ = ["MLPClassifier", "MLPRegressor", "__version__"]
