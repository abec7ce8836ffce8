"""Helpers that run real OpenStack Glance on loopback for the integration test (tests/test_glance.py)."""
