"""Continuous-window features of many events at once, in numpy: the arithmetic of a micro-batch.

The per-event path keeps one deque per key and pays the interpreter for every event. A batch
can do the same arithmetic on whole arrays instead. Lay every event out sorted by (key code,
event time, arrival), the key's older events before the batch's; then for the event at
position p, of time t, its window `(t - size, t]` is the run of positions q..p with q the
first position of the same key whose time is > t - size:

- one `searchsorted` finds every q at once, once each key's times are shifted apart so that
  the keys' runs cannot overlap (`shifted_times`);
- count is p - q + 1; mean = sum / count; last is the value at p;
- sum, min and max are range reductions over q..p (`range_sum`, `range_max`): a short range is
  reduced directly (one `reduceat` for all of them); a long one, as a hot key's, from a
  structure over the rows the long ranges span - prefix sums in long double (so a difference
  keeps the digits a float64 running total would lose), and for the maxima, maxima of fixed
  32-event blocks accumulated from each block's two ends plus a sparse table over the block
  maxima, so any range is at most three lookups.

The events older than the batch's need not all be laid out again: columnar_state.py keeps most
of them (`cold`) with suffix aggregates per key, and `combine` joins the two parts of a window.
Pure functions of arrays; `microbatch.py` is the shell that feeds them and keeps the state.
"""
from __future__ import annotations

import numpy as np

VECTORIZED = ("count", "sum", "mean", "min", "max", "last")  # aggregates computed here
BLOCK = 32
LONG = 2 * BLOCK  # ranges this long or longer take the block structure; shorter ones are read directly
INT64_LIMIT = 2**62


def merge_by_key(tail, new):
    """Insert `new` events after `tail`'s events of the same key code; both (code, ts, value)
    array triples sorted by (code, ts, arrival), every new event arriving after every tail event
    of its key. Returns the merged triple and the positions the new events took in it. (Any two
    tuples of arrays sorted by their first array merge this way: columnar_dedup.py's runs do.)"""
    tail_code, new_code = tail[0], new[0]
    pos = np.searchsorted(tail_code, new_code, side="right") + np.arange(len(new_code))
    is_new = np.zeros(len(tail_code) + len(new_code), dtype=bool)
    is_new[pos] = True
    merged = []
    for old, add in zip(tail, new):
        out = np.empty(len(is_new), dtype=np.result_type(old.dtype, add.dtype))
        out[pos] = add
        out[~is_new] = old
        merged.append(out)
    return tuple(merged), pos


def shifted_times(code, ts, positions, times):
    """(shifted ts, shifted query times): each key's times moved into a run of its own, after the
    previous key's run, so that one sorted array answers "first position of this key after time x".

    `code`, `ts`: sorted by (code, ts). `times[i]` is a time to search for within the key of
    position `positions[i]`. Within a key every comparison between a time and a query time
    is kept; every query lands after every earlier key's run."""
    rank = np.zeros(len(code), dtype=np.int64)  # dense rank of the key code: 0, 1, 2, ...
    if len(code) > 1:
        np.cumsum(code[1:] != code[:-1], out=rank[1:])
    start = min(int(ts.min()), int(times.min()))
    span = int(ts.max()) - start + 1
    if (int(rank[-1]) + 2) * span < INT64_LIMIT:
        base = rank * span
        return base + (ts - start), base[positions] + (times - start)
    # times too far apart to shift in int64: replace them by their ranks, which keep every comparison
    values, inverse = np.unique(np.concatenate([ts, times]), return_inverse=True)
    base = rank * (len(values) + 1)
    return base + inverse[:len(ts)], base[positions] + inverse[len(ts):]


def window_starts(code, ts, positions, size: int) -> np.ndarray:
    """For each position p: the first position q of the same key with ts[q] > ts[p] - size.

    `code` and `ts` are sorted by (code, ts); the window of the event at p is q..p."""
    # BEGIN SOLUTION [4.9] vectorized micro-batch with a columnar boundary (section 9)
    # HINT: shift each key's times apart (`shifted_times`) so that one np.searchsorted(..., side="right")
    # HINT: of the shifted t - size finds every window's first position at once; "right" because
    # HINT: the window is open on the left: an event at exactly t - size is out.
    shifted, queries = shifted_times(code, ts, positions, ts[positions] - size)
    return np.searchsorted(shifted, queries, side="right")
    # END SOLUTION


def _reduce_short(ufunc, values, lo, hi, dtype=None):
    """ufunc.reduce over values[lo[i] : hi[i] + 1] for every i, by one `reduceat`: the ranges are
    interleaved with the gaps between them, whose results are dropped. Cost: the ranges' lengths
    plus the gaps' (at most len(values) when the ranges are in ascending order, as here)."""
    ext = np.empty(len(values) + 1, dtype=values.dtype)  # room for the index after the last range
    ext[:-1] = values
    ext[-1] = 0
    bounds = np.empty(2 * len(lo), dtype=np.int64)
    bounds[0::2], bounds[1::2] = lo, hi + 1
    return ufunc.reduceat(ext, bounds, dtype=dtype)[0::2]


def _split(lo, hi):
    """(short, long): the ranges read directly, and those that take the O(1)-per-range structure."""
    is_long = hi - lo >= LONG
    return np.flatnonzero(~is_long), np.flatnonzero(is_long)


def range_sum(values: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """sum(values[lo[i] : hi[i] + 1]) for every i (lo <= hi), accumulated in long double: short
    ranges added directly, long ones as a difference of prefix sums over the rows they span."""
    out = np.empty(len(lo))
    short, long = _split(lo, hi)
    if short.size:
        out[short] = _reduce_short(np.add, values, lo[short], hi[short], dtype=np.longdouble)
    if long.size:
        a, b = int(lo[long].min()), int(hi[long].max())
        prefix = np.zeros(b - a + 2, dtype=np.longdouble)
        np.cumsum(values[a:b + 1], dtype=np.longdouble, out=prefix[1:])
        out[long] = prefix[hi[long] - a + 1] - prefix[lo[long] - a]
    return out


def range_max(values: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """max(values[lo[i] : hi[i] + 1]) for every i (lo <= hi): short ranges read directly, long ones
    from block maxima and a sparse table over the rows they span (at most three lookups each)."""
    out = np.empty(len(lo))
    short, long = _split(lo, hi)
    if short.size:
        out[short] = _reduce_short(np.maximum, values, lo[short], hi[short])
    if long.size:
        a, b = int(lo[long].min()), int(hi[long].max())
        out[long] = _block_max(values[a:b + 1], lo[long] - a, hi[long] - a)
    return out


def _block_max(values, lo, hi):
    """range_max for ranges of at least one block: maxima of fixed 32-event blocks, accumulated
    from each block's two ends, plus a sparse table over the block maxima."""
    n = len(values)
    blocks_n = -(-n // BLOCK)
    padded = np.full(blocks_n * BLOCK, -np.inf)
    padded[:n] = values
    blocks = padded.reshape(blocks_n, BLOCK)
    prefix = np.maximum.accumulate(blocks, axis=1).ravel()  # max from the block's start to here
    suffix = np.maximum.accumulate(blocks[:, ::-1], axis=1)[:, ::-1].ravel()  # from here to its end
    # sparse table over the block maxima: level k holds the max of 2**k blocks from each start
    table = [prefix[BLOCK - 1::BLOCK]]
    while (1 << len(table)) <= blocks_n:
        prev, step = table[-1], 1 << (len(table) - 1)
        table.append(np.maximum(prev[:-step], prev[step:]))
    first, last = lo // BLOCK, hi // BLOCK
    out = np.maximum(suffix[lo], prefix[hi])  # ranges this long always span two blocks or more
    between = last - first - 1  # whole blocks strictly inside the range
    inner = np.flatnonzero(between > 0)
    if inner.size:
        a, count = first[inner] + 1, between[inner]
        level = np.frexp(count)[1] - 1  # floor(log2(count)), exactly
        best = np.full(inner.size, -np.inf)
        for k in np.unique(level):
            rows = np.flatnonzero(level == k)
            t = table[k]
            best[rows] = np.maximum(t[a[rows]], t[a[rows] + count[rows] - (1 << k)])
        out[inner] = np.maximum(out[inner], best)
    return out


def window_features(code, ts, values, positions, size: int, aggregates) -> dict[str, np.ndarray]:
    """Each aggregate (names from VECTORIZED) over the window `(t - size, t]` of the events at
    `positions` of the (code, ts, value) arrays sorted by (code, ts, arrival); returns
    {aggregate: one value per position}: count as int64, the others as float64."""
    # BEGIN SOLUTION [4.9] vectorized micro-batch with a columnar boundary (section 9)
    # HINT: q = window_starts(...); count = p - q + 1; sum = range_sum(values, q, p);
    # HINT: mean = sum / count; last = values[p]; max = range_max(values, q, p), and the min is
    # HINT: -range_max(-values, q, p). Compute only what `aggregates` asks for (and count for a mean).
    starts = window_starts(code, ts, positions, size)
    out = {}
    wanted = set(aggregates)
    if "count" in wanted or "mean" in wanted:
        count = positions - starts + 1
        out["count"] = count.astype(np.int64)
    if "sum" in wanted or "mean" in wanted:
        total = range_sum(values, starts, positions)
        out["sum"] = total
        if "mean" in wanted:
            out["mean"] = total / count
    if "last" in wanted:
        out["last"] = values[positions].astype(np.float64)
    if "max" in wanted:
        out["max"] = range_max(values, starts, positions)
    if "min" in wanted:
        out["min"] = -range_max(-values, starts, positions)
    return {a: out[a] for a in aggregates}
    # END SOLUTION


def combine(hot: dict, cold: dict, aggregates) -> dict[str, np.ndarray]:
    """Each aggregate of a window split in two parts (see columnar_state.py): `hot`, the part
    computed by `window_features` (with count and sum when a mean is asked for), and `cold`
    (count, sum, max, min; an empty part has count 0, sum 0, max -inf, min +inf)."""
    out = {}
    for a in aggregates:
        if a == "mean":
            out[a] = (hot["sum"] + cold["sum"]) / (hot["count"] + cold["count"])
        elif a in ("count", "sum"):
            out[a] = hot[a] + cold[a]
        elif a == "max":
            out[a] = np.maximum(hot[a], cold[a])
        elif a == "min":
            out[a] = np.minimum(hot[a], cold[a])
        else:  # last: the event's own value, always in the hot part
            out[a] = hot[a]
    return out


def keep_live(code, ts, size: int) -> np.ndarray:
    """Mask of the events each key's window still holds after its latest event: ts > latest - size
    (exactly what the per-event window keeps), for arrays sorted by (code, ts)."""
    if len(code) == 0:
        return np.zeros(0, dtype=bool)
    last = np.flatnonzero(np.r_[code[1:] != code[:-1], True])  # each key's last position
    latest = np.repeat(ts[last], np.diff(np.r_[-1, last]))
    return ts > latest - size
