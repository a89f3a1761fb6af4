"""The permit renewal wizard: server-side validation and markup for its steps.

Step 1 (/renew) asks for the permit and owner, step 2 (/renew/step2) for contact details and the
renewal period, step 3 (/renew/step3) shows a review with the fee and needs the `agree` checkbox.
Every form sets `novalidate`, so the browser always submits and the server's checks decide.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from html import escape

from .data import Permit, Submission, by_id, renewal_fee
from .markup import document, money

YEAR_CHOICES = ("1", "2", "3")
OWNER_NAME_LENGTH = (2, 80)
PHONE_DIGITS = (7, 15)

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_PHONE = re.compile(r"[0-9 -]+")

Values = dict[str, str]
Errors = dict[str, str]


def check_step1(form: Mapping[str, str]) -> tuple[Values, Errors]:
    """Normalised step 1 values (permit id uppercased, owner name stripped) and errors by field name."""
    values = {
        "permit_id": form.get("permit_id", "").strip().upper(),
        "owner_name": form.get("owner_name", "").strip(),
    }
    errors: Errors = {}
    if not values["permit_id"]:
        errors["permit_id"] = "Enter a permit ID, for example P-1003."
    elif by_id(values["permit_id"]) is None:
        errors["permit_id"] = f"No permit has the ID {values['permit_id']}."
    low, high = OWNER_NAME_LENGTH
    if not values["owner_name"]:
        errors["owner_name"] = "Enter the owner's name."
    elif not low <= len(values["owner_name"]) <= high:
        errors["owner_name"] = f"Owner name must be between {low} and {high} characters."
    return values, errors


def check_step2(form: Mapping[str, str]) -> tuple[Values, Errors]:
    """Normalised step 2 values (stripped) and errors by field name."""
    values = {
        "email": form.get("email", "").strip(),
        "phone": form.get("phone", "").strip(),
        "years": form.get("years", "").strip(),
    }
    errors: Errors = {}
    if not values["email"]:
        errors["email"] = "Enter an email address."
    elif not _EMAIL.fullmatch(values["email"]):
        errors["email"] = "Enter a valid email address, for example name@example.com."
    digits = sum(ch.isdigit() for ch in values["phone"])
    low, high = PHONE_DIGITS
    if not values["phone"]:
        errors["phone"] = "Enter a phone number."
    elif not _PHONE.fullmatch(values["phone"]):
        errors["phone"] = "Phone number may contain only digits, spaces and dashes."
    elif not low <= digits <= high:
        errors["phone"] = f"Phone number must have {low} to {high} digits."
    if values["years"] not in YEAR_CHOICES:
        errors["years"] = "Choose a renewal period of 1, 2 or 3 years."
    return values, errors


AGREE_ERROR = "Tick the box to confirm the details are correct."


def _years_text(years: str | int) -> str:
    return "1 year" if str(years) == "1" else f"{years} years"


def _error(name: str, errors: Errors) -> tuple[str, str]:
    """(attributes for the control, error paragraph placed right after it)."""
    message = errors.get(name)
    if not message:
        return "", ""
    error_id = f"{name}-error"
    return (
        f' aria-invalid="true" aria-describedby="{error_id}"',
        f'<p class="error" role="alert" id="{error_id}">{escape(message)}</p>',
    )


def _input(name: str, label: str, kind: str, values: Mapping[str, str], errors: Errors, autocomplete: str) -> str:
    attrs, error = _error(name, errors)
    return (
        f'<div class="field"><label for="{name}">{escape(label)}</label> '
        f'<input type="{kind}" id="{name}" name="{name}" value="{escape(values.get(name, ""))}" '
        f'autocomplete="{autocomplete}" required{attrs}>{error}</div>\n'
    )


def _page(step: int, heading: str, body: str, errors: Errors) -> str:
    title = f"Renew a permit - step {step} of 3"
    if errors:
        title = "Error: " + title
    return document(title, f"<h1>Renew a permit</h1>\n<h2>Step {step} of 3: {escape(heading)}</h2>\n{body}")


def _permit_line(permit: Permit) -> str:
    return f'<p class="renewing">Renewing {escape(permit["id"])}: {escape(permit["name"])}</p>\n'


def step1(values: Mapping[str, str], errors: Errors) -> str:
    body = (
        '<form id="renewal-step1" method="post" action="/renew/step1" novalidate>\n'
        + _input("permit_id", "Permit ID", "text", values, errors, "off")
        + _input("owner_name", "Owner name", "text", values, errors, "name")
        + '<button type="submit">Next</button>\n</form>'
    )
    return _page(1, "Permit and owner", body, errors)


def step2(permit: Permit, values: Mapping[str, str], errors: Errors) -> str:
    attrs, error = _error("years", errors)
    chosen = values.get("years") or "1"
    options = "".join(
        f'<option value="{y}"{" selected" if y == chosen else ""}>{_years_text(y)}</option>' for y in YEAR_CHOICES
    )
    body = (
        _permit_line(permit)
        + '<form id="renewal-step2" method="post" action="/renew/step2" novalidate>\n'
        + _input("email", "Email", "email", values, errors, "email")
        + _input("phone", "Phone", "tel", values, errors, "tel")
        + '<div class="field"><label for="years">Renewal period</label> '
        f'<select id="years" name="years" required{attrs}>{options}</select>{error}</div>\n'
        '<button type="submit">Next</button>\n</form>\n'
        '<p><a href="/renew">Back</a></p>'
    )
    return _page(2, "Contact details and renewal period", body, errors)


def review_rows(permit: Permit, state: Mapping[str, str]) -> list[tuple[str, str]]:
    years = int(state["years"])
    return [
        ("Permit ID", permit["id"]),
        ("Business", permit["name"]),
        ("Owner name", state["owner_name"]),
        ("Email", state["email"]),
        ("Phone", state["phone"]),
        ("Renewal period", _years_text(years)),
        ("Annual fee", money(permit["fee"])),
        ("Renewal fee", money(renewal_fee(permit["id"], years))),
    ]


_REVIEW_IDS = {"Renewal fee": ' id="renewal-fee"'}


def step3(permit: Permit, state: Mapping[str, str], errors: Errors) -> str:
    items = "".join(
        f"<dt>{escape(label)}</dt><dd{_REVIEW_IDS.get(label, '')}>{escape(value)}</dd>"
        for label, value in review_rows(permit, state)
    )
    attrs, error = _error("agree", errors)
    body = (
        f'<dl id="review">{items}</dl>\n'
        '<form id="renewal-step3" method="post" action="/renew/step3" novalidate>\n'
        f'<div class="field"><input type="checkbox" id="agree" name="agree" value="yes" required{attrs}> '
        f'<label for="agree">I confirm the details are correct</label>{error}</div>\n'
        '<button type="submit">Submit renewal</button>\n</form>\n'
        '<p><a href="/renew/step2">Back</a></p>'
    )
    return _page(3, "Review and submit", body, errors)


def done(submission: Submission) -> str:
    permit = by_id(submission["permit_id"])
    name = permit["name"] if permit else submission["permit_id"]
    body = (
        "<h1>Renewal submitted</h1>\n"
        f'<p>Confirmation number: <strong id="confirmation">{escape(submission["confirmation"])}</strong></p>\n'
        f"<p>Permit {escape(submission['permit_id'])} ({escape(name)}) is renewed for "
        f"{_years_text(submission['years'])}. Fee: {money(submission['fee'])}.</p>\n"
        '<p><a href="/renew">Renew another permit</a></p>'
    )
    return document("Renewal submitted", body)
