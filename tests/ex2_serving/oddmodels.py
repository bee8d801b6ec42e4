"""Test models for the output side of the protocol (trusted pickles, like poison.py)."""
import numpy as np


class NaNOnNonZero:
    """Two outputs per row: NaN for any row that is not all zero (the zero warm-up batch passes)."""

    def predict(self, X):
        return [np.full(2, np.nan) if (x != 0).any() else np.zeros(2) for x in X]


class Float64Sum:
    """One float64 per row: its datatype on the wire must be FP64."""

    def predict(self, X):
        return [np.float64(x.sum()) for x in np.asarray(X, dtype=np.float64)]


class Int64Argmax:
    """The index of the largest feature: INT64 on the wire."""

    def predict(self, X):
        return list(np.argmax(X, axis=1).astype(np.int64))
