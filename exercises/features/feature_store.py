# Starter code generated from solutions/features/feature_store.py by `make exercises`.
# Replace each `raise NotImplementedError(...)` with your code; `make reset EX=4` restores this file.
"""FeatureStore: an online store for serving and an offline store for training data.

Online reads (store.py) serve the latest value per entity and feature; the offline
history (offline.py) gives point-in-time correct training frames through the same
as-of function as the stream-table join (asof.asof_indices).

One value per feature and time. A continuous-window feature's value at time t is its
aggregate over the entity's events in (t - W, t], evaluated by `decayed` for online reads
and for training rows alike, and missing when the entity's latest event at or before t
is older than the TTL (TTL first, then decay: inside the TTL a quiet entity's count
can be 0; past it the value is missing). So a training row at 10 minutes for three
events at 0, 1 and 2 minutes says 0, as an online read at 10 minutes does.
"""
from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .asof import asof_indices, event_ms
from .offline import OfflineStore
from .store import decayed, is_fresh, now_ms, open_online_store
from .windows import to_ms


@dataclass(frozen=True)
class OnDemandFeature:
    """Computed at lookup time from request data and stored features: fn(request, features) -> value."""
    name: str
    inputs: tuple
    fn: object


class FeatureStore:
    def __init__(self, features=(), online: str = "memory://", offline: str | Path | None = None,
                 ttl=None, on_demand=()):
        self.features = {f.name: f for f in features}
        self.on_demand = {f.name: f for f in on_demand}
        self.ttl = None if ttl is None else to_ms(ttl)
        self.online = open_online_store(online)
        self.offline = OfflineStore(offline)

    # writes
    def write(self, entity, feature: str, value, feature_ts: int, created_ts: int | None = None,
              offline: bool = True) -> bool:
        """Write one feature value online (if not older than what is there) and to the history."""
        created = now_ms() if created_ts is None else created_ts
        stored = self.online.write(entity, feature, value, feature_ts, created)
        if offline:
            scalar = value["v"] if isinstance(value, dict) and "events" in value else value
            self.offline.append([{"entity": entity, "feature": feature, "value": scalar,
                                  "feature_ts": feature_ts, "created_ts": created, "input": None}])
        return stored

    def write_rows(self, rows: list[dict], created_ts: int | None = None):
        """Append pipeline rows (one per event) to the offline history, one row per continuous feature."""
        created = now_ms() if created_ts is None else created_ts
        history = []
        for row in rows:
            for name, f in self.features.items():
                if f.continuous and name in row:
                    history.append({"entity": row[f.key], "feature": name, "value": row[name],
                                    "feature_ts": row["ts"], "created_ts": created,
                                    "input": row[f.value] if f.value else None})
        self.offline.append(history)

    def materialize(self, pipeline, created_ts: int | None = None) -> int:
        """Push the latest window state of every entity the pipeline touched to the online store."""
        created = now_ms() if created_ts is None else created_ts
        written = 0
        for group, entity in sorted(pipeline.drain_touched(), key=repr):
            for f in pipeline.groups[group]:
                if f.name not in self.features:
                    continue
                events = pipeline.window_events(f, entity)
                if not events:
                    continue
                ts = events[-1][0]
                value = {"v": pipeline.window_value(f, entity), "events": events}
                written += self.online.write(entity, f.name, value, ts, created)
        return written

    # reads
    def _online_value(self, entity, name: str, now: int):
        record = self.online.read(entity, name)
        if record is None or not is_fresh(record, now, self.ttl):
            return None
        value = record.value
        if isinstance(value, dict) and "events" in value:
            f = self.features[name]
            events = value["events"]
            if events and events[0][0] > now - f.window.size and record.feature_ts <= now:
                return value["v"]  # nothing has left the window yet: O(1)
            return decayed(events, f.window.size, f.agg, now)
        return value

    def get_online_features(self, entity_keys, feature_names, now: int | None = None, request=None) -> list[dict]:
        """One dict per entity key: {feature: value or None}; on-demand features computed from `request`."""
        if isinstance(entity_keys, (str, bytes)) or isinstance(feature_names, (str, bytes)):
            raise TypeError("entity_keys and feature_names must be lists, not a single string")
        unknown = [n for n in feature_names if n not in self.features and n not in self.on_demand]
        if unknown:
            raise KeyError(f"unknown features {unknown}; registered: {sorted(self.features) + sorted(self.on_demand)}")
        at = now_ms() if now is None else now
        out = []
        for i, entity in enumerate(entity_keys):
            values = {n: self._online_value(entity, n, at) for n in feature_names if n in self.features}
            for n in feature_names:
                if n in self.on_demand:
                    od = self.on_demand[n]
                    stored = {k: self._online_value(entity, k, at) for k in od.inputs if k in self.features}
                    req = request[i] if isinstance(request, list) else (request or {})
                    values[n] = od.fn(req, stored)
            out.append({n: values[n] for n in feature_names})
        return out

    def get_historical_features(self, entity_df, feature_names, entity_column: str = "entity",
                                ts_column: str = "ts", created_before: bool = False):
        """Point-in-time correct training frame: entity_df plus one column per feature.

        Each row gets, per feature, the value with the latest feature_ts in
        [row_ts - ttl, row_ts] (ties: later created_ts); with `created_before` only
        values written by row_ts count. A continuous-window feature is then evaluated at
        row_ts over the events in (row_ts - W, row_ts], as an online read at row_ts is
        (`decayed`). Missing values are NaN; `<feature>__ts` is the chosen feature time.
        The ts column holds integer milliseconds or datetimes (naive = UTC), as Feast's
        entity_df does.
        """
        import pandas as pd

        if not isinstance(entity_df, pd.DataFrame):
            raise TypeError(f"entity_df must be a pandas DataFrame, got {type(entity_df).__name__}")
        missing = [c for c in (entity_column, ts_column) if c not in entity_df.columns]
        if missing:
            raise KeyError(f"entity_df lacks columns {missing}")
        row_ts = event_ms(entity_df[ts_column], ts_column)
        result = entity_df.copy()
        history = self.offline.read(list(feature_names))
        for name in feature_names:
            part = history[history["feature"] == name].reset_index(drop=True)
            idx = asof_indices(entity_df[entity_column].tolist(), row_ts,
                               part["entity"].tolist(), part["feature_ts"].to_numpy(),
                               part["created_ts"].to_numpy(), ttl=self.ttl, created_before=created_before)
            f = self.features.get(name)
            if f is not None and f.continuous:
                column = window_values(part, f, entity_df[entity_column].tolist(), row_ts, idx, created_before)
            else:
                values = part["value"].to_numpy()
                column = [values[i] if i >= 0 else math.nan for i in idx]
            result[name] = column
            result[f"{name}__ts"] = [int(part["feature_ts"].iat[i]) if i >= 0 else None for i in idx]
        return result

    def close(self):
        self.online.close()


def enrich(events: list[dict], table: list[dict], key: str, valid_from: str = "valid_from",
           fields: tuple = ()) -> list[dict]:
    """Stream-table join: each event gets the table row for its key valid at its event time."""
    idx = asof_indices([e[key] for e in events], [e["ts"] for e in events],
                       [r[key] for r in table], [r[valid_from] for r in table])
    out = []
    for e, i in zip(events, idx):
        row = table[i] if i >= 0 else {}
        out.append({**e, **{f: row.get(f) for f in fields}})
    return out


def window_values(part, feature, entities, row_ts, chosen, created_before: bool) -> list:
    """Each row's window (t - W, t] over the entity's history events visible at t, by `decayed`.

    `chosen` is the as-of pick per row (-1: none within the TTL, so NaN). History rows of one
    entity keep their append order within a feature time, which is the pipeline's (ts, seq) order.
    """
    ts = part["feature_ts"].to_numpy(dtype=np.int64)
    created = part["created_ts"].to_numpy(dtype=np.int64)
    inputs = part["input"].tolist()
    entity = part["entity"].tolist()  # one conversion, not a pandas lookup per history row
    rows_of: dict = {}
    for i in np.argsort(ts, kind="stable").tolist():
        rows_of.setdefault(entity[i], []).append(i)
    times_of = {e: [int(ts[i]) for i in rows] for e, rows in rows_of.items()}
    size = feature.window.size
    out = []
    for entity, t, pick in zip(entities, row_ts, chosen):
        if pick < 0:
            out.append(math.nan)
            continue
        rows, times = rows_of[entity], times_of[entity]
        inside = rows[bisect_right(times, t - size):bisect_right(times, t)]
        events = [(int(ts[i]), inputs[i]) for i in inside if not created_before or created[i] <= t]
        out.append(decayed(events, size, feature.agg, int(t)))
    return out
