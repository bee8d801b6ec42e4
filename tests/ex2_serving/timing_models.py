"""Test models with a known cost, carried by trusted pickles: slow, hanging or recording on real traffic.

Warm-up batches are all zeros (registry.zeros_batch), so each model tells warm-up from traffic by
`X.any()`: a slow model loads fast, and a slow loader serves fast.
"""
import threading
import time

RELEASE = threading.Event()  # a Hang returns once this is set (tests set it when they end)
COMPUTED: list = []          # first feature of every traffic row a Recording model computed, in order


class Sum:
    """Sum of features at once."""

    def predict(self, X):
        return X.sum(axis=1)


class SlowOnData:
    """Sum of features after `seconds` per traffic batch; warm-up is instant."""

    def __init__(self, seconds: float):
        self.seconds = seconds

    def predict(self, X):
        if X.any():
            time.sleep(self.seconds)
        return X.sum(axis=1)


class SlowWarmup:
    """Takes `seconds` to warm up (so a load stays in flight that long); traffic is instant."""

    def __init__(self, seconds: float):
        self.seconds = seconds

    def predict(self, X):
        if not X.any():
            time.sleep(self.seconds)
        return X.sum(axis=1)


class Hang:
    """A model call that never returns on traffic (until RELEASE is set; 30 s at most, so a run ends)."""

    def predict(self, X):
        if X.any():
            RELEASE.wait(30)
        return X.sum(axis=1)


class Recording:
    """Sum of features after `seconds`; appends each traffic row's first feature to COMPUTED."""

    def __init__(self, seconds: float):
        self.seconds = seconds

    def predict(self, X):
        if X.any():
            COMPUTED.extend(float(v) for v in X[:, 0])
            time.sleep(self.seconds)
        return X.sum(axis=1)


SLOW_S = 1.0        # one traffic batch of "slow"
WARMUP_S = 0.05     # one warm-up of "slowload"


def build(registry) -> None:
    """Register every timing model, input_dim 3, in `registry`."""
    def add(name, model):
        registry.register(name, model, input_dim=3, format="pickle", trust=True)

    add("fast", Sum())
    add("slow", SlowOnData(SLOW_S))
    add("slowload", SlowWarmup(WARMUP_S))
    add("hang", Hang())
    add("recording", Recording(0.02))
    add("pair", Sum())                 # v1: instant
    add("pair", SlowOnData(SLOW_S))    # v2: one second per batch (a slow shadow)
