"""The certificate payload (format `sip-carbon-certificate/1`): what is signed, printed
and shown on the verify page. `build()` makes one and refuses an inconsistent one (the
serial ranges must add up to the amount exactly; an offset may not exceed its stated
emissions), so a certificate can never claim grams its serials do not carry.

    {"format": "sip-carbon-certificate/1",
     "number": "SIP-C-2026-000123",
     "purpose": "retirement",            # issuance | retirement | offset | cancellation | donation
     "owner": {"name": "...", "credit_code": "..." | null},
     "beneficiary": "..." | null,        # "on behalf of"
     "recipient": {"name": "...", "credit_code": "..." | null} | null,   # a donation's
     "reason": "..." | null,
     "amount_g": 1234567,                # grams CO2e, an integer
     "amount_tco2e": "1.234567",         # the same in tCO2e, exactly 6 decimals, a string
     "serials": ["CN-SIP-P7-2026-1-1234567", ...],
     "methodologies": [{"code": "...", "version": "...", "title": "..." | null}],
     "event": {"name": "...", "date": "2026-05-01" | null, "emissions_g": 2000000} | null,
     "period": {"start": "2026-01-01", "end": "2026-12-31"} | null,
     "issued_at": "2026-11-24T10:00:00+08:00"}

No floats anywhere: amounts are integer grams, and tCO2e is a decimal string.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

from backend.certificates.numbers import is_number

FORMAT = "sip-carbon-certificate/1"
PURPOSES = ("issuance", "retirement", "offset", "cancellation", "donation")
GRAMS_PER_TONNE = 1_000_000
# CN-SIP-{S|P}{object}-{vintage}-{start}-{end}: an inclusive range of gram serials
# (object 0 of S is the pool of personal reductions that came back from the points mall)
SERIAL = re.compile(r"^CN-SIP-([SP])(0|[1-9][0-9]*)-([0-9]{4})-([1-9][0-9]*)-([1-9][0-9]*)$")
# responses and certificates show China Standard Time, +08:00
CHINA = timezone(timedelta(hours=8), "CST")
MAX_TEXT = 500
MAX_GRAMS = 2**53 - 1  # the largest integer every JSON reader keeps exactly (RFC 8785)


class BadCertificate(ValueError):
    """The parts given do not make a consistent certificate."""


def tco2e(grams: int) -> str:
    """Grams as tCO2e with exactly 6 decimals, by integer arithmetic: 1234567 -> '1.234567'."""
    if isinstance(grams, bool) or not isinstance(grams, int):
        raise BadCertificate("grams are an integer")
    sign = "-" if grams < 0 else ""
    whole, frac = divmod(abs(grams), GRAMS_PER_TONNE)
    return f"{sign}{whole}.{frac:06d}"


def parse_serial(serial: str) -> tuple[str, int, int, int, int]:
    """(kind S|P, object id, vintage, start, end) of a serial range; BadCertificate if it
    is not one (start <= end, both from 1)."""
    match = SERIAL.match(serial) if isinstance(serial, str) else None
    if not match:
        raise BadCertificate(f"not a serial range: {serial!r}")
    kind, obj, vintage, start, end = match.groups()
    start_n, end_n = int(start), int(end)
    if end_n < start_n:
        raise BadCertificate(f"serial range ends before it starts: {serial}")
    return kind, int(obj), int(vintage), start_n, end_n


def serial_grams(serial: str) -> int:
    _, _, _, start, end = parse_serial(serial)
    return end - start + 1


def _text(value, name: str, *, required: bool = True) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise BadCertificate(f"{name} is a non-empty string")
    if len(value) > MAX_TEXT or "\x00" in value:
        raise BadCertificate(f"{name} is too long or holds a NUL")
    return value.strip()


def _party(value, name: str, *, required: bool = True) -> dict | None:
    if value is None and not required:
        return None
    if isinstance(value, str):
        value = {"name": value}
    if not isinstance(value, dict) or set(value) - {"name", "credit_code"}:
        raise BadCertificate(f"{name} is a name or {{name, credit_code}}")
    return {
        "name": _text(value.get("name"), f"{name}.name"),
        "credit_code": _text(value.get("credit_code"), f"{name}.credit_code", required=False),
    }


def _day(value, name: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        value = value.astimezone(CHINA).date()
    if isinstance(value, date):
        return value.isoformat()
    try:
        return date.fromisoformat(value).isoformat()
    except (TypeError, ValueError) as exc:
        raise BadCertificate(f"{name} is a date") from exc


def _grams(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_GRAMS:
        raise BadCertificate(f"{name} is a positive integer of grams (at most 2**53 - 1)")
    return value


def _serials(serials, amount_g: int) -> list[str]:
    if not isinstance(serials, list | tuple) or not serials:
        raise BadCertificate("serials: at least one serial range")
    parsed = sorted((parse_serial(s), s) for s in serials)
    total = 0
    for i, ((kind, obj, _vintage, start, end), serial) in enumerate(parsed):
        total += end - start + 1
        if i:
            (prev_kind, prev_obj, _v, _s, prev_end), prev = parsed[i - 1]
            if (prev_kind, prev_obj) == (kind, obj) and start <= prev_end:
                raise BadCertificate(f"serial ranges overlap: {prev} and {serial}")
    if total != amount_g:
        raise BadCertificate(f"the serial ranges carry {total} g, not the amount {amount_g} g")
    return list(serials)


def _methodologies(items) -> list[dict]:
    if isinstance(items, dict):
        items = [items]
    if not isinstance(items, list | tuple) or not items:
        raise BadCertificate("methodologies: at least one {code, version}")
    out = []
    for m in items:
        if not isinstance(m, dict) or set(m) - {"code", "version", "title"}:
            raise BadCertificate("a methodology is {code, version, title?}")
        out.append(
            {
                "code": _text(m.get("code"), "methodology.code"),
                "version": _text(m.get("version"), "methodology.version"),
                "title": _text(m.get("title"), "methodology.title", required=False),
            }
        )
    return out


def _event(event) -> dict | None:
    if event is None:
        return None
    if not isinstance(event, dict) or set(event) - {"name", "date", "emissions_g"}:
        raise BadCertificate("event is {name, date?, emissions_g}")
    return {
        "name": _text(event.get("name"), "event.name"),
        "date": _day(event.get("date"), "event.date"),
        "emissions_g": _grams(event.get("emissions_g"), "event.emissions_g"),
    }


def _period(period) -> dict | None:
    if period is None:
        return None
    if not isinstance(period, dict) or set(period) != {"start", "end"}:
        raise BadCertificate("period is {start, end}")
    start, end = _day(period["start"], "period.start"), _day(period["end"], "period.end")
    if end < start:
        raise BadCertificate("period ends before it starts")
    return {"start": start, "end": end}


def build(
    *,
    number: str,
    purpose: str,
    owner: dict | str,
    amount_g: int,
    serials: list[str],
    methodologies: list[dict] | dict,
    issued_at: datetime,
    beneficiary: str | None = None,
    recipient: dict | str | None = None,
    reason: str | None = None,
    event: dict | None = None,
    period: dict | None = None,
) -> dict:
    """A certificate payload, ready for `signing.sign()`; BadCertificate if the parts do
    not agree."""
    if not is_number(number):
        raise BadCertificate(f"not a certificate number: {number!r}")
    if purpose not in PURPOSES:
        raise BadCertificate(f"purpose is one of {', '.join(PURPOSES)}")
    amount_g = _grams(amount_g, "amount_g")
    if not isinstance(issued_at, datetime) or issued_at.tzinfo is None:
        raise BadCertificate("issued_at is a timezone-aware datetime")
    event_doc = _event(event)
    if purpose == "offset":
        if event_doc is None:
            raise BadCertificate("an offset names the event or period and its emissions")
        if amount_g > event_doc["emissions_g"]:
            raise BadCertificate("an offset may not exceed the stated emissions")
    recipient_doc = _party(recipient, "recipient", required=purpose == "donation")
    if recipient_doc is not None and purpose != "donation":
        raise BadCertificate("only a donation has a recipient")
    return {
        "format": FORMAT,
        "number": number,
        "purpose": purpose,
        "owner": _party(owner, "owner"),
        "beneficiary": _text(beneficiary, "beneficiary", required=False),
        "recipient": recipient_doc,
        "reason": _text(reason, "reason", required=False),
        "amount_g": amount_g,
        "amount_tco2e": tco2e(amount_g),
        "serials": _serials(serials, amount_g),
        "methodologies": _methodologies(methodologies),
        "event": event_doc,
        "period": _period(period),
        "issued_at": issued_at.astimezone(CHINA).replace(microsecond=0).isoformat(),
    }
