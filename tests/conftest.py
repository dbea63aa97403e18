import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.preprocessing import StandardScaler


@pytest.fixture(scope="session")
def digits():
    """Standardised digits: (X, y), 1797 × 64, 10 classes."""
    X, y = load_digits(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.fixture
def rng():
    return np.random.default_rng(0)
