# Starter code generated from solutions/features/sinks.py by `make exercises`.
# Replace each `raise NotImplementedError(...)` with your code; `make reset EX=4` restores this file.
"""Where the side outputs go: window results (`fired`), late events (`late`), `dead_letters`.

A sink is a list-like (anything with `append`) or a callable taking one item; `None` makes a
new list. The pipeline keeps a reference as `pipeline.fired` / `.late` / `.dead_letters`, so
`pipeline.fired` reads as before, but a sink is not pipeline state: a checkpoint never holds
what was emitted (that is the sink's, and in crash recovery the commit's, business), so its
size follows the live windows, not the length of the stream.
"""
from __future__ import annotations

SIDE_OUTPUTS = ("fired", "late", "dead_letters")
# the attribute holding each sink's delivery function (list.append or the callable itself)
EMITTERS = {"fired": "emit_fired", "late": "emit_late", "dead_letters": "emit_dead_letter"}
NOT_STATE = frozenset(SIDE_OUTPUTS) | frozenset(EMITTERS.values())


def emitter(name: str, sink):
    """(sink, a function delivering one item to it); a new list when `sink` is None."""
    if sink is None:
        sink = []
    append = getattr(sink, "append", None)
    if callable(append):
        return sink, append
    if callable(sink):
        return sink, sink
    raise TypeError(f"{name} must be a sink: a list-like with .append or a callable taking one item, "
                    f"got {type(sink).__name__}")


def attach(target, **sinks):
    """Point `target`'s side outputs at `sinks` (name -> sink; a missing or None one becomes a new list)."""
    unknown = set(sinks) - set(SIDE_OUTPUTS)
    if unknown:
        raise TypeError(f"unknown side outputs {sorted(unknown)}; the pipeline has {list(SIDE_OUTPUTS)}")
    for name in SIDE_OUTPUTS:
        sink, emit = emitter(name, sinks.get(name))
        setattr(target, name, sink)
        setattr(target, EMITTERS[name], emit)
