"""Seeded data generators shared by notebooks, tests and benchmarks (one module per exercise)."""
