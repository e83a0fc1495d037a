"""stores domain."""
