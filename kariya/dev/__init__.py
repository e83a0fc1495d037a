"""dev domain."""
