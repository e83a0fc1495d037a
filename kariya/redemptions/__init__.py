"""redemptions domain."""
