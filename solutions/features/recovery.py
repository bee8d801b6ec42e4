"""Crash recovery: periodic checkpoints committed together with the output, then resume.

`run_with_checkpoints` processes records and, every `every` records, atomically writes one
file holding the pipeline checkpoint *and* everything emitted since the previous one: the
rows and the side outputs (window results, late events, dead letters). That is a
transactional sink in miniature: output becomes visible only with the state that produced
it, and is handed to the pipeline's own sinks only once committed. A process killed at any
point loses only uncommitted work; `resume` loads the committed output and the latest
checkpoint and replays the input from the checkpoint's offset, so the final output has
every row and every side output exactly once.

Each commit costs the live state plus the new output, never the history:
`commit` returns the bytes it wrote (the file size to watch as a stream grows).
"""
from __future__ import annotations

import os
import pickle
from pathlib import Path

from .pipeline import FeaturePipeline
from .sinks import SIDE_OUTPUTS, emitter


def commit(directory: Path, number: int, pipeline: FeaturePipeline, rows: list, outputs: dict) -> int:
    """Write commit `number` (checkpoint, rows, side outputs) atomically; returns its size in bytes."""
    blob = pickle.dumps({"checkpoint": pipeline.checkpoint(), "rows": rows, **outputs},
                        protocol=pickle.HIGHEST_PROTOCOL)
    tmp = directory / f".commit-{number:06d}.tmp"
    tmp.write_bytes(blob)
    os.replace(tmp, directory / f"commit-{number:06d}.pkl")  # atomic: a crash leaves the old state or the new
    return len(blob)


def run_with_checkpoints(features, records, directory, every: int = 1_000, crash_at: int | None = None,
                         pipeline: FeaturePipeline | None = None, **settings) -> FeaturePipeline:
    """Process `records` from `pipeline.offset`, committing every `every` records.

    The pipeline's side outputs reach its sinks once committed. `crash_at` kills this very
    process (SIGKILL, no cleanup) once that many records were read: the failure the
    checkpoints exist for.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    pipeline = pipeline or FeaturePipeline(features, **settings)
    number = len(list(directory.glob("commit-*.pkl")))
    delivered = pipeline.sinks()
    deliver = {name: emitter(name, sink)[1] for name, sink in delivered.items()}
    pending = {name: [] for name in SIDE_OUTPUTS}
    pipeline.attach_sinks(**pending)
    rows = []

    def commit_now():
        nonlocal number, rows
        commit(directory, number, pipeline, rows, pending)
        for name, items in pending.items():
            for item in items:
                deliver[name](item)
            items.clear()
        number, rows = number + 1, []

    try:
        for record in records[pipeline.offset:]:
            if crash_at is not None and pipeline.offset == crash_at:
                os.kill(os.getpid(), 9)
            rows += pipeline.process(record)
            if pipeline.offset % every == 0:
                commit_now()
        rows += pipeline.flush()
        commit_now()
    finally:
        pipeline.attach_sinks(**delivered)
    return pipeline


def committed(directory) -> tuple[list, FeaturePipeline | None]:
    """All committed rows, and the pipeline restored from the latest commit (None if there is none),
    its side-output lists holding everything committed."""
    rows, outputs, blob = [], {name: [] for name in SIDE_OUTPUTS}, None
    for path in sorted(Path(directory).glob("commit-*.pkl")):
        data = pickle.loads(path.read_bytes())
        rows += data["rows"]
        for name in SIDE_OUTPUTS:
            outputs[name] += data[name]
        blob = data["checkpoint"]
    return rows, None if blob is None else FeaturePipeline.restore(blob, **outputs)


def resume(features, records, directory, every: int = 1_000, **settings) -> tuple[list, FeaturePipeline]:
    """Finish a run that may have crashed: committed rows + a replay from the last checkpoint."""
    _, pipeline = committed(directory)
    pipeline = run_with_checkpoints(features, records, directory, every, pipeline=pipeline, **settings)
    rows, _ = committed(directory)
    return rows, pipeline
