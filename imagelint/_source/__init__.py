"""Image sources: snapshot files (JSON, JSON Lines) and the live ``GET /v2/images`` API."""

from imagelint._source.api import ApiSource
from imagelint._source.interface import Image, ImageSource, Page, SourceError
from imagelint._source.snapshot import SnapshotSource
from imagelint._source.transport import ConfigError

__all__ = ["ApiSource", "ConfigError", "Image", "ImageSource", "Page", "SnapshotSource", "SourceError"]
