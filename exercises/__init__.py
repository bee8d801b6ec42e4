# Starter code generated from solutions/__init__.py by `make exercises`.
# Replace each `raise NotImplementedError(...)` with your code; `make exercises` restores this file.
"""Reference solutions, one package per exercise. `exercises/` is generated from here."""
