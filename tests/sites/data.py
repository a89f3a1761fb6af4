"""Deterministic fixture data, so tests can compare scraped pages against known records."""

from __future__ import annotations

import hashlib
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


class ListedPermit(TypedDict):
    """A permit as returned by /api/permits: everything except `phone` and `email`."""

    id: str
    name: str
    category: str
    status: str
    fee: float
    city: str
    issued: str


class Report(TypedDict):
    """One downloadable report on /reports; `csv` is the exact text served at /reports/<slug>.csv."""

    slug: str
    title: str
    year: int
    csv: str


class Submission(TypedDict):
    """One completed permit renewal, as recorded in `Site.submissions`."""

    permit_id: str
    owner_name: str
    email: str
    phone: str
    years: int
    fee: float
    confirmation: str


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


def listed(p: Permit) -> ListedPermit:
    """The permit without its contact fields, as the /api/permits JSON and the /live table show it."""
    return ListedPermit(
        id=p["id"],
        name=p["name"],
        category=p["category"],
        status=p["status"],
        fee=p["fee"],
        city=p["city"],
        issued=p["issued"],
    )


def renewal_fee(permit_id: str, years: int) -> float:
    """Renewal fee for `years` years: the permit's fee times `years`, computed in whole cents."""
    permit = by_id(permit_id)
    if permit is None:
        raise KeyError(permit_id)
    return round(permit["fee"] * 100) * years / 100


def confirmation_number(permit_id: str, owner_name: str, email: str, years: int) -> str:
    """The renewal confirmation number shown after step 3, e.g. "RN-1A2B3C".

    The inputs are the values as the server keeps them: permit id uppercased, owner name and
    email with surrounding whitespace stripped (case otherwise kept), years as an int.
    """
    digest = hashlib.sha256(f"{permit_id}|{owner_name}|{email}|{years}".encode()).hexdigest()
    return "RN-" + digest[:6].upper()


def _cents_text(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _category_csv(year: int) -> str:
    """Permit counts per category and status; 2024 matches PERMITS, other years are shifted deterministically."""
    shift = year - 2024
    lines = ["category,active,expired,pending,total"]
    for ci, category in enumerate(CATEGORIES):
        counts = [
            max(0, len(filtered(category, status)) + shift * ((ci + 2 * si) % 3)) for si, status in enumerate(STATUSES)
        ]
        lines.append(",".join([category, *map(str, counts), str(sum(counts))]))
    return "\n".join(lines) + "\n"


def _city_csv(year: int) -> str:
    """Permit count and fee total per city; 2024 matches PERMITS, 2023 is 90% and 2025 is 105% of the fees."""
    percent = {2023: 90, 2024: 100, 2025: 105}[year]
    lines = ["city,permits,total_fees"]
    for city in CITIES:
        in_city = [p for p in PERMITS if p["city"] == city]
        cents = sum(round(p["fee"] * 100) for p in in_city) * percent // 100
        lines.append(f"{city},{len(in_city)},{_cents_text(cents)}")
    return "\n".join(lines) + "\n"


REPORT_YEARS: list[int] = [2023, 2024, 2025]

REPORTS: list[Report] = [
    report
    for year in REPORT_YEARS
    for report in (
        Report(
            slug=f"permits-by-category-{year}",
            title=f"Permits by category {year}",
            year=year,
            csv=_category_csv(year),
        ),
        Report(
            slug=f"fees-by-city-{year}",
            title=f"Fee revenue by city {year}",
            year=year,
            csv=_city_csv(year),
        ),
    )
]


def report_by_slug(slug: str) -> Report | None:
    """The report with this slug (without ".csv"), or None."""
    return next((r for r in REPORTS if r["slug"] == slug), None)
