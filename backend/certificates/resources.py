"""Certificates over HTTP, for anyone: the published keys (/api/v1/public/keys), each
certificate as signed JSON and as a printable PDF, a check of any document somebody holds,
and the verify page a certificate's QR code opens (/verify/{number})."""

from __future__ import annotations

from flask import Blueprint as FlaskBlueprint
from flask import Response, make_response, render_template, request

from backend.certificates import issuing, pdf, signing
from backend.certificates import schemas as s
from backend.http import HTML_CSP, Blueprint
from backend.runtime import setting

blp = Blueprint(
    "certificates",
    __name__,
    url_prefix="/api/v1/public",
    description="Certificates and the keys that sign them",
)
pages = FlaskBlueprint("verify_pages", __name__)
blueprints = [blp]
page_blueprints = [pages]


def _verify_url(number: str) -> str:
    base = setting("PUBLIC_BASE_URL") or request.url_root
    return f"{base.rstrip('/')}/verify/{number}"


@blp.route("/keys", methods=["GET"])
@blp.response(200, s.PublicKeysOut)
def public_keys():
    """Every key that ever signed a certificate, oldest first: a JWK set (kty OKP, crv
    Ed25519, x, kid) with each key's status (`current` or `retired`) and dates. A
    certificate signed with a retired key stays verifiable with it."""
    return {"keys": signing.public_keys()}


@blp.route("/certificates/<string:number>", methods=["GET"])
@blp.response(200, s.CertificateOut)
@blp.problems(404, "certificate_not_found")
def get_certificate(number):
    """A certificate: its fields, the signed document (RFC 8785 + Ed25519; check it with
    `/public/keys`), the verify page's address, and the current state of its serials."""
    certificate = issuing.get(number)
    doc = certificate.document
    body = doc["certificate"]
    return {
        "number": certificate.number,
        "purpose": body["purpose"],
        "owner": body["owner"],
        "beneficiary": body.get("beneficiary"),
        "recipient": body.get("recipient"),
        "amount_g": body["amount_g"],
        "amount_tco2e": body["amount_tco2e"],
        "serials": body["serials"],
        "methodology": body["methodologies"],
        "issued_at": body["issued_at"],
        "signature": doc["signatures"][0]["value"],
        "key_id": doc["signatures"][0]["key_id"],
        "verify_url": _verify_url(certificate.number),
        "document": doc,
        "state": issuing.serial_states(certificate),
    }


@blp.route("/certificates/<string:number>.pdf", methods=["GET"])
@blp.doc(
    responses={
        200: {
            "description": "The printable PDF",
            "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
        }
    }
)
@blp.problems(404, "certificate_not_found")
def certificate_pdf(number):
    """The printable certificate (A4 PDF, Chinese and English) with a QR code of its
    verify page."""
    certificate = issuing.get(number)
    data = pdf.render(certificate.document, _verify_url(certificate.number))
    resp = Response(data, mimetype="application/pdf")
    resp.headers["Content-Disposition"] = f'inline; filename="{certificate.number}.pdf"'
    return resp


@blp.route("/certificates/check", methods=["POST"])
@blp.arguments(s.DocumentCheckIn)
@blp.response(200, s.DocumentCheckOut)
def check_document(body):
    """Check a signed certificate document you hold: is the signature good, and is it the
    document this registry issued, unchanged?"""
    return issuing.check_document(body["document"])


@pages.get("/verify/<string:number>")
def verify_page(number):
    """The page a certificate's QR code opens: the server checks the signature and the
    serials' state; the page's script checks the signature again in the browser."""
    try:
        certificate = issuing.get(number)
    except issuing.CertificateNotFound:
        page = make_response(render_template("verify.html", number=number, found=False), 404)
    else:
        page = make_response(
            render_template(
                "verify.html",
                number=number,
                found=True,
                cert=certificate.document["certificate"],
                check=issuing.check(certificate),
            )
        )
    page.headers["Content-Security-Policy"] = HTML_CSP
    return page
