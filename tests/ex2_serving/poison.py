"""Test models that only a trusted pickle can carry (plain Python classes with predict)."""
import time

import numpy as np


class PoisonOnNegative:
    """Sum of features; raises on any row whose first feature is negative (one bad item)."""

    def predict(self, X):
        if (X[:, 0] < 0).any():
            raise ValueError("poisoned input: first feature is negative")
        return X.sum(axis=1)


class Slow:
    """Sum of features after sleeping `seconds` per call (a model with a fixed per-batch cost)."""

    def __init__(self, seconds: float):
        self.seconds = seconds

    def predict(self, X):
        time.sleep(self.seconds)
        return X.sum(axis=1)


class AlwaysFails:
    def predict(self, X):
        if (X != 0).any():  # the all-zero warm-up batch passes, real traffic fails
            raise RuntimeError("canary model is broken")
        return np.zeros(len(X))


class FailsWarmup:
    def predict(self, X):
        raise RuntimeError("cannot even warm up")
