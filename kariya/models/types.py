"""Kept for the migrations, which name `kariya.models.types.UTCDateTime`."""

from kariya.orm import UTCDateTime

__all__ = ["UTCDateTime"]
