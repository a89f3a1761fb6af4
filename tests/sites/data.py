"""Deterministic fixture data, so tests can compare scraped pages against known records."""

from __future__ import annotations

import math
import re
from datetime import date, timedelta
from typing import TypedDict


class Permit(TypedDict):
    """One business permit; `phone` and `email` appear only on detail pages."""

    id: str
    name: str
    category: str
    status: str
    fee: float
    city: str
    issued: str
    phone: str
    email: str


class FeeRow(TypedDict):
    """One row of the static fee schedule shown on /table."""

    category: str
    base_fee: float
    late_fee: float
    renewal_months: int


PAGE_SIZE = 20

CATEGORIES: list[str] = ["Restaurant", "Retail", "Construction", "Salon", "Bakery"]
STATUSES: list[str] = ["Active", "Expired", "Pending"]
CITIES: list[str] = ["Springfield", "Riverton", "Lakeview", "Fairmont"]

_PREFIXES = [
    "Golden",
    "Maple",
    "Harbor",
    "Summit",
    "Riverside",
    "Cedar",
    "Bluebird",
    "Smith & Sons",
    "Lakeside",
    "Sunrise",
    "Pinecrest",
    "Copper",
]
_NOUNS = {
    "Restaurant": "Bistro",
    "Retail": "Outfitters",
    "Construction": "Builders",
    "Salon": "Hair Studio",
    "Bakery": "Bakehouse",
}
# Length-7 cycle independent of the 5 categories, so every category/status pair occurs.
_STATUS_CYCLE = ["Active", "Active", "Expired", "Active", "Pending", "Active", "Expired"]


def _make_permit(i: int) -> Permit:
    category = CATEGORIES[i % len(CATEGORIES)]
    name = f"{_PREFIXES[i % len(_PREFIXES)]} {_NOUNS[category]}"
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    cents = 5000 + (i * 3725) % 45000
    return Permit(
        id=f"P-{1001 + i}",
        name=name,
        category=category,
        status=_STATUS_CYCLE[i % len(_STATUS_CYCLE)],
        fee=round(cents / 100, 2),
        city=CITIES[(i // 3) % len(CITIES)],
        issued=(date(2024, 1, 2) + timedelta(days=(i * 47) % 360)).isoformat(),
        phone=f"555-{100 + i:04d}",
        email=f"info@{slug}.example.com",
    )


PERMITS: list[Permit] = [_make_permit(i) for i in range(57)]

FEE_SCHEDULE: list[FeeRow] = [
    FeeRow(category="Restaurant", base_fee=250.00, late_fee=50.00, renewal_months=12),
    FeeRow(category="Retail", base_fee=150.00, late_fee=25.00, renewal_months=12),
    FeeRow(category="Construction", base_fee=475.50, late_fee=95.00, renewal_months=6),
    FeeRow(category="Salon", base_fee=120.00, late_fee=20.00, renewal_months=24),
    FeeRow(category="Bakery", base_fee=135.25, late_fee=22.50, renewal_months=12),
    FeeRow(category="Food Truck", base_fee=310.00, late_fee=60.00, renewal_months=6),
    FeeRow(category="Street Vendor", base_fee=85.00, late_fee=15.00, renewal_months=3),
    FeeRow(category="Daycare", base_fee=525.75, late_fee=105.00, renewal_months=12),
]


def filtered(category: str | None = None, status: str | None = None) -> list[Permit]:
    """Permits matching the directory filters; None or "" means no filter, as in the form."""
    return [p for p in PERMITS if (not category or p["category"] == category) and (not status or p["status"] == status)]


def page_count(records: list[Permit] | None = None) -> int:
    """Number of directory pages; an empty result still renders one (empty) page."""
    total = len(PERMITS if records is None else records)
    return max(1, math.ceil(total / PAGE_SIZE))


def page_of(n: int, records: list[Permit] | None = None) -> list[Permit]:
    """Records on 1-based page `n` of `records` (default: all permits); [] when out of range."""
    source = PERMITS if records is None else records
    if n < 1:
        return []
    return source[(n - 1) * PAGE_SIZE : n * PAGE_SIZE]


def by_id(permit_id: str) -> Permit | None:
    """The permit with this id, or None."""
    return next((p for p in PERMITS if p["id"] == permit_id), None)
