"""Loopback fixture web site (permit directory) for browser-driven tests."""

from .data import FEE_SCHEDULE, PAGE_SIZE, PERMITS
from .server import Site, start_site

__all__ = ["FEE_SCHEDULE", "PAGE_SIZE", "PERMITS", "Site", "start_site"]
