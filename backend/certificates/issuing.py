"""Issuing and checking certificates: every approved use and every issuance gets one, in
the same transaction as the move it certifies. A certificate is the payload of
`document.build` signed by `signing.sign`, stored as signed. Checking one verifies the
signature with the published key and whether its serials are still in the state it
claims (retired serials stay retired: the database guarantees it; the check shows it)."""

from __future__ import annotations

from sqlalchemy import select

from backend.certificates import document, signing
from backend.certificates.models import Certificate
from backend.certificates.numbers import next_number
from backend.db import db, utcnow
from backend.errors import NotFound
from backend.reductions import blocks
from backend.reductions.beneficiaries import public_name
from backend.reductions.models import Issuance, Use, serial_of
from backend.registry.models import Methodology, Project, Scenario

# the state a serial of each kind of certificate must still be in
CLAIMED = {"retirement": "retired", "offset": "retired", "cancellation": "cancelled"}


class CertificateNotFound(NotFound):
    code, title = "certificate_not_found", "No such certificate"


def _party(org) -> dict:
    return {"name": org.name, "credit_code": org.credit_code}


def _methodologies(serials: list[str]) -> list[dict]:
    found: dict[tuple[str, str], dict] = {}
    for serial in serials:
        kind, object_id, *_ = document.parse_serial(serial)
        if kind == "P":
            project = db.session.get(Project, object_id)
            versions = [project.methodology]
        else:  # S0: personal reductions of every scenario, back from the points mall
            versions = list(
                db.session.execute(
                    select(Methodology).join(Scenario, Scenario.methodology_id == Methodology.id)
                ).scalars()
            )
        for m in versions:
            found[(m.code, m.version)] = {"code": m.code, "version": m.version, "title": m.title}
    return [found[k] for k in sorted(found)]


def _store(payload_parts: dict, subject: tuple[str, int]) -> Certificate:
    now = utcnow()
    number = next_number(now)
    payload = document.build(number=number, issued_at=now, **payload_parts)
    signed = signing.sign(payload)
    certificate = Certificate(
        number=number,
        purpose=payload["purpose"],
        subject_type=subject[0],
        subject_id=subject[1],
        document=signed,
        key_id=signed["signatures"][0]["key_id"],
        issued_at=now,
    )
    db.session.add(certificate)
    db.session.flush()
    return certificate


def for_use(use: Use) -> Certificate:
    serials = [s["serial"] for s in use.serials]
    certificate = _store(
        {
            "purpose": use.purpose,
            "owner": _party(use.owner),
            "amount_g": use.amount_g,
            "serials": serials,
            "methodologies": _methodologies(serials),
            "beneficiary": public_name(use.beneficiary),
            "recipient": _party(use.recipient) if use.recipient else None,
            "reason": use.reason,
            "event": use.event,
        },
        ("use", use.id),
    )
    use.certificate_number = certificate.number
    return certificate


def for_issuance(issuance: Issuance) -> Certificate:
    project = issuance.project
    serial = serial_of(
        "P", project.id, issuance.vintage, issuance.start_serial, issuance.end_serial
    )
    certificate = _store(
        {
            "purpose": "issuance",
            "owner": _party(issuance.owner),
            "amount_g": issuance.amount_g,
            "serials": [serial],
            "methodologies": _methodologies([serial]),
            "reason": f"{project.code} {project.title}",
            "period": {"start": issuance.period_start, "end": issuance.period_end},
        },
        ("issuance", issuance.id),
    )
    issuance.certificate_number = certificate.number
    return certificate


def get(number: str) -> Certificate:
    certificate = db.session.get(Certificate, number) if len(number) <= 40 else None
    if certificate is None:
        raise CertificateNotFound("No such certificate.")
    return certificate


def serial_states(certificate: Certificate) -> list[dict]:
    """Each serial range of the certificate with the state of the blocks that hold it now,
    and whether that is the state the certificate claims."""
    claimed = CLAIMED.get(certificate.purpose)
    out = []
    for serial in certificate.document["certificate"]["serials"]:
        kind, object_id, _, start, end = document.parse_serial(serial)
        covering = blocks.covering(kind, object_id, start, end)
        covered = sum(min(end, b.end_serial) - max(start, b.start_serial) + 1 for b in covering)
        states = sorted({b.status for b in covering})
        whole = covered == end - start + 1
        ok = whole and (claimed is None or states == [claimed])
        out.append(
            {
                "serial": serial,
                "claimed": claimed or "issued",
                "now": states,
                "ok": ok,
            }
        )
    return out


def check(certificate: Certificate) -> dict:
    """The verify page's verdict: the signature, the key, the serials' state."""
    result = signing.verify(certificate.document)
    serials = serial_states(certificate)
    return {
        "number": certificate.number,
        "signature_valid": bool(result.valid),
        "signature_reason": result.reason,
        "key_id": result.key_id,
        "key_status": result.key_status,
        "serials": serials,
        "ok": bool(result.valid) and all(s["ok"] for s in serials),
    }


def check_document(doc: dict) -> dict:
    """Check a document somebody holds (pasted or uploaded): the signature, and whether it
    is one this registry issued, unchanged."""
    result = signing.verify(doc)
    number = (doc.get("certificate") or {}).get("number") if isinstance(doc, dict) else None
    stored = db.session.get(Certificate, number) if isinstance(number, str) else None
    return {
        "signature_valid": bool(result.valid),
        "signature_reason": result.reason,
        "key_id": result.key_id,
        "issued_here": stored is not None and stored.document == doc,
    }
