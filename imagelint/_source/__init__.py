"""Image sources: snapshot files (JSON, JSON Lines) and the live ``GET /v2/images`` API."""

from imagelint._source.interface import Image, ImageSource, SourceError
from imagelint._source.snapshot import SnapshotSource

__all__ = ["Image", "ImageSource", "SnapshotSource", "SourceError"]
