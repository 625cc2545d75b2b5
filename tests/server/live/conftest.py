"""Live tests share one real server per module (tests/conftest.py's `server` fixture)."""
