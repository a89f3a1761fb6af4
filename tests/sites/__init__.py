"""Loopback fixture web site (permit directory) for browser-driven tests."""

from .data import FEE_SCHEDULE, PAGE_SIZE, PERMITS, REPORTS, confirmation_number, renewal_fee
from .server import Site, start_site

__all__ = [
    "FEE_SCHEDULE",
    "PAGE_SIZE",
    "PERMITS",
    "REPORTS",
    "Site",
    "confirmation_number",
    "renewal_fee",
    "start_site",
]
