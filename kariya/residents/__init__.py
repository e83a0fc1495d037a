"""residents domain."""
