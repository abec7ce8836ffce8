"""Image sources: snapshot files (JSON, JSON Lines) and the live ``GET /v2/images`` API."""

from imagelint.sources.api import ApiSource
from imagelint.sources.interface import Image, ImageSource, Page, SourceError
from imagelint.sources.snapshot import SnapshotSource
from imagelint.sources.transport import ConfigError

__all__ = ["ApiSource", "ConfigError", "Image", "ImageSource", "Page", "SnapshotSource", "SourceError"]
