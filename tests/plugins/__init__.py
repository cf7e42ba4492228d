"""The suite's fixtures, one plugin per kind of peer (loaded by tests/conftest.py)."""
