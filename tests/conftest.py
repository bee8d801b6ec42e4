"""Root conftest: pytester drives the grader plugin in tests/scaffold/test_grader.py."""
pytest_plugins = ["pytester"]
