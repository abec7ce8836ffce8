"""Fake Huawei Cloud IMS / Glance image-list server for imagelint's tests; see ``server`` for the API."""

from .server import FAULT_KINDS, FakeIMS, Fault, RecordedRequest, generate_images

__all__ = ["FakeIMS", "Fault", "RecordedRequest", "generate_images", "FAULT_KINDS"]
