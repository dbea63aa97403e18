"""fastbp: multi-layer perceptrons trained by compiled backpropagation on CPU cores.

``MLPClassifier`` and ``MLPRegressor`` are drop-in replacements for
scikit-learn's. Importing fastbp compiles nothing: kernels compile (or load
from Numba's on-disk cache) on first use, or ahead of it with ``warm_up()``.
"""

__version__ = "0.1.0"

from ._kernels.blas import blas_info  # noqa: E402
from ._estimators import MLPClassifier, MLPRegressor  # noqa: E402
from ._threads import threading_info  # noqa: E402
from ._warmup import warm_up  # noqa: E402
from .io import ModelFileError, load, save  # noqa: E402

__all__ = ["MLPClassifier", "MLPRegressor", "ModelFileError", "blas_info", "load", "save",
           "threading_info", "warm_up", "__version__"]
