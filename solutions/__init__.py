"""Reference solutions, one package per exercise. `exercises/` is generated from here."""
