"""materials domain."""
