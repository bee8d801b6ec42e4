"""Matplotlib helpers for the notebooks (one module per exercise)."""
