"""Shared infrastructure for the exercises: no part of any answer lives here.

- `impl`      which implementation (reference `solutions` or learner `exercises`) is in use
- `generate`  writes `exercises/` from the marked regions of `solutions/`
- `grader`    the pytest plugin behind `--impl`, "not attempted" reporting and the scoreboard
- `notebooks` executes and cleans the committed notebooks
- `doctor`    the environment check
- `net`       loopback helpers: a free port, uvicorn in a thread for tests
- `data`      seeded data generators shared by notebooks, tests and benchmarks

This package must never import from `solutions/` or `exercises/`, except
through `impl.load`, so that the learner's starter code and the reference
answer are always interchangeable.
"""
