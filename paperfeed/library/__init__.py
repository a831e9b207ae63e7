"""The reader's library (placeholder docstring)."""
