"""Certificates anyone can verify: the signed JSON (RFC 8785 + Ed25519), the published key
ring and its rotation, the printable PDF (embedded CJK font, QR code back to the verify
URL), and the certificate number."""

from __future__ import annotations

import base64
import ctypes
import json
import logging
import os
import stat
import threading
from datetime import UTC, datetime

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
import pytest
import rfc8785
import zxingcpp
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import text

from backend.certificates import document, keys, numbers, pdf, signing
from backend.db import db

OWNER = "苏州绿色出行科技有限公司"
VERIFY_URL = "https://carbon.sipac.example/verify/SIP-C-2026-000123"
ISSUED = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)


def payload(**changes) -> dict:
    parts = {
        "number": "SIP-C-2026-000123",
        "purpose": "retirement",
        "owner": {"name": OWNER, "credit_code": "91320594MA0000017X"},
        "beneficiary": "苏州工业园区2026年马拉松",
        "reason": "赛事碳中和 / event made carbon neutral",
        "amount_g": 1_500_000,
        "serials": ["CN-SIP-P7-2026-1-1000000", "CN-SIP-S2-2025-300001-800000"],
        "methodologies": [{"code": "SIP-M-TRANSIT", "version": "1.0", "title": "公共交通出行"}],
        "issued_at": ISSUED,
    }
    parts.update(changes)
    return document.build(**parts)


def b64url_decode(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def third_party_verify(jwk: dict, signed: dict) -> None:
    """What anyone can do with the published key and off-the-shelf JCS and Ed25519
    libraries, without our code: raises InvalidSignature if it does not verify."""
    public = Ed25519PublicKey.from_public_bytes(b64url_decode(jwk["x"]))
    public.verify(
        b64url_decode(signed["signatures"][0]["value"]),
        rfc8785.dumps(signed["certificate"]),
    )


def published(client) -> dict:
    r = client.get("/api/v1/public/keys")
    assert r.status_code == 200, r.get_json()
    return {k["kid"]: k for k in r.get_json()["keys"]}


def commit_and_close() -> None:
    db.session.commit()
    db.session.close()


# -- signing and verifying --------------------------------------------------------------


@pytest.mark.sqlite
def test_sign_then_verify_with_the_published_key(app, client, ctx):
    p = payload()
    signed = signing.sign(p)
    assert signed["certificate"] == p
    assert set(signed) == {"certificate", "signatures"}
    [sig] = signed["signatures"]
    assert sig["alg"] == "Ed25519"
    assert sig["key_id"] == keys.configured().key_id
    assert len(b64url_decode(sig["value"])) == 64

    result = signing.verify(signed)
    assert result.valid and result.reason == "ok"
    assert result.key_id == sig["key_id"] and result.key_status == "current"
    assert result.as_dict()["signatures"] == [
        {
            "alg": "Ed25519",
            "key_id": sig["key_id"],
            "valid": True,
            "reason": "ok",
            "key_status": "current",
        }
    ]
    commit_and_close()  # the key was published in the signing transaction

    keys_out = published(client)
    assert list(keys_out) == [sig["key_id"]]
    jwk = keys_out[sig["key_id"]]
    assert {jwk["kty"], jwk["crv"], jwk["alg"], jwk["use"], jwk["status"]} == {
        "OKP",
        "Ed25519",
        "sig",
        "current",
    }
    assert jwk["retired_at"] is None and jwk["created_at"].endswith("+08:00")
    third_party_verify(jwk, signed)
    # the key id is the RFC 7638 thumbprint of the published JWK, recomputable by anyone
    assert keys.key_id_for(b64url_decode(jwk["x"])) == jwk["kid"]


@pytest.mark.sqlite
def test_key_ids_are_rfc7638_thumbprints():
    # RFC 8037 appendix A.3: the thumbprint of the example Ed25519 key
    x = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
    assert keys.key_id_for(b64url_decode(x)) == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


@pytest.mark.sqlite
def test_a_one_byte_edit_anywhere_is_refused(ctx):
    signed = signing.sign(payload())
    assert signing.verify(signed).valid
    raw = rfc8785.dumps(signed)
    parsed_edits = 0
    for i in range(len(raw)):
        for flip in (0x01, 0x20):
            edited = bytearray(raw)
            edited[i] ^= flip
            try:
                candidate = json.loads(bytes(edited).decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                continue  # no longer JSON: nothing to accept
            if candidate == signed:
                continue  # the same document spelled differently (e.g. case of a \u escape)
            parsed_edits += 1
            result = signing.verify(candidate)
            assert not result.valid, (i, flip, bytes(edited[max(0, i - 20) : i + 20]))
    # the loop really exercised the payload and the signature, not only broken JSON
    assert parsed_edits > len(raw) // 2

    # the signature's last character carries 2 spare bits: a lenient base64 decoder
    # reads 'A' and 'B' there as the same bytes; only the canonical spelling is accepted
    value = signed["signatures"][0]["value"]
    last = value[-1]
    for other in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_":
        if other == last:
            continue
        forged = json.loads(json.dumps(signed))
        forged["signatures"][0]["value"] = value[:-1] + other
        assert not signing.verify(forged).valid, other

    # an edit by meaning: one gram more
    forged = json.loads(json.dumps(signed))
    forged["certificate"]["amount_g"] += 1
    assert signing.verify(forged).reason == "bad_signature"


NOT_SIGNED_DOCUMENTS = [
    (None, "malformed"),
    ([], "malformed"),
    ("text", "malformed"),
    ({"certificate": {}}, "malformed"),
    ({"certificate": [], "signatures": []}, "malformed"),
    ({"certificate": {"a": 1}, "signatures": {}}, "malformed"),
    ({"certificate": {"a": 1}, "signatures": []}, "no_signature"),
    ({"certificate": {"a": float("nan")}, "signatures": [{}]}, "not_canonicalizable"),
    ({"certificate": {"a": 2**60}, "signatures": [{}]}, "not_canonicalizable"),
    ({"certificate": {"a": 1}, "signatures": [None]}, "malformed"),
    (
        {"certificate": {"a": 1}, "signatures": [{"alg": "SM2", "key_id": "k", "value": "v"}]},
        "unsupported_algorithm",
    ),
    (
        {
            "certificate": {"a": 1},
            "signatures": [{"alg": "Ed25519", "key_id": "x\x00y", "value": "AAAA"}],
        },
        "unknown_key",
    ),
    (
        {
            "certificate": {"a": 1},
            "signatures": [{"alg": "Ed25519", "key_id": "A" * 43, "value": "AAAA"}],
        },
        "unknown_key",
    ),
]


@pytest.mark.sqlite
def test_what_is_not_a_signed_document_is_refused_with_a_reason(ctx):
    for doc, reason in NOT_SIGNED_DOCUMENTS:
        result = signing.verify(doc)
        assert not result.valid, doc
        assert result.reason == reason, (doc, result)


@pytest.mark.sqlite
def test_signature_fields_are_checked_strictly_and_sm2_may_stand_beside(ctx):
    signed = signing.sign(payload())
    # another algorithm's signature beside ours: reported, not counted
    with_sm2 = json.loads(json.dumps(signed))
    with_sm2["signatures"].append({"alg": "SM2", "key_id": "sm2-1", "value": "MEUCIQ", "id": "x"})
    result = signing.verify(with_sm2)
    assert result.valid
    assert [c.reason for c in result.checks] == ["ok", "unsupported_algorithm"]
    # a second Ed25519 signature that fails refuses the whole document
    doubled = json.loads(json.dumps(signed))
    bad = dict(doubled["signatures"][0], value=keys.b64url(bytes(64)))
    doubled["signatures"].append(bad)
    assert signing.verify(doubled).reason == "bad_signature"
    # extra members in an Ed25519 signature or at the top level are not accepted
    extra = json.loads(json.dumps(signed))
    extra["signatures"][0]["note"] = "trust me"
    assert signing.verify(extra).reason == "malformed"
    extra = dict(json.loads(json.dumps(signed)), verified=True)
    assert signing.verify(extra).reason == "malformed"
    # a value that is not base64url, or not 64 bytes
    for value in ("not base64!", keys.b64url(bytes(63)), 12):
        broken = json.loads(json.dumps(signed))
        broken["signatures"][0]["value"] = value
        assert signing.verify(broken).reason == "bad_encoding", value


@pytest.mark.sqlite
def test_a_payload_that_is_not_canonical_json_is_not_signed(ctx):
    for bad in ({"a": float("inf")}, {"a": 2**53 + 1}, {1: "x"}, {"a": object()}):
        with pytest.raises(signing.NotCanonicalizable):
            signing.sign(bad)
    with pytest.raises(TypeError):
        signing.sign(["not", "an", "object"])


# -- the key ring and its rotation ------------------------------------------------------


@pytest.mark.sqlite
def test_after_rotation_old_certificates_verify_with_the_published_old_key(
    app, client, ctx, tmp_path, monkeypatch
):
    key_file = tmp_path / "signing.pem"
    keys.write_key_file(key_file, keys.generate_pem())
    monkeypatch.setitem(app.config, "CERT_SIGNING_KEY", str(key_file))
    old = signing.sign(payload(number="SIP-C-2026-000001"))
    old_kid = old["signatures"][0]["key_id"]
    commit_and_close()

    result = app.test_cli_runner().invoke(args=["certificates", "rotate-key"])
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600

    new = signing.sign(payload(number="SIP-C-2026-000002"))  # the file is read again
    new_kid = new["signatures"][0]["key_id"]
    assert new_kid != old_kid and new_kid in result.output
    commit_and_close()

    old_result, new_result = signing.verify(old), signing.verify(new)
    assert old_result.valid and old_result.key_id == old_kid
    assert old_result.key_status == "retired"
    assert new_result.valid and new_result.key_status == "current"

    ring = published(client)
    assert list(ring) == [old_kid, new_kid]  # oldest first
    assert ring[old_kid]["status"] == "retired" and ring[old_kid]["retired_at"]
    assert ring[new_kid]["status"] == "current" and ring[new_kid]["retired_at"] is None
    third_party_verify(ring[old_kid], old)
    third_party_verify(ring[new_kid], new)
    with pytest.raises(InvalidSignature):
        third_party_verify(ring[new_kid], old)

    listing = app.test_cli_runner().invoke(args=["certificates", "keys"])
    assert listing.exit_code == 0
    assert f"{new_kid}  Ed25519  current" in listing.output
    assert f"{old_kid}  Ed25519  retired" in listing.output


@pytest.mark.sqlite
def test_a_process_still_holding_a_retired_key_may_not_sign(app, ctx, monkeypatch):
    old_pem = keys.generate_pem().decode()
    monkeypatch.setitem(app.config, "CERT_SIGNING_KEY", old_pem)
    signing.sign(payload())
    new_pem = keys.generate_pem().decode()
    monkeypatch.setitem(app.config, "CERT_SIGNING_KEY", new_pem)
    signing.sign(payload())  # a new key signs: published, the old one retired
    commit_and_close()

    monkeypatch.setitem(app.config, "CERT_SIGNING_KEY", old_pem)
    with pytest.raises(keys.SigningKeyRetired) as err:
        signing.sign(payload())
    assert err.value.code == "signing_key_retired" and err.value.status == 503
    db.session.rollback()
    statuses = sorted(keys.status(row) for row in keys.published())
    assert statuses == ["current", "retired"]


@pytest.mark.sqlite
def test_rotating_an_inline_key_needs_a_file_for_the_new_one(app, ctx, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "CERT_SIGNING_KEY", keys.generate_pem().decode())
    signing.sign(payload())
    commit_and_close()
    runner = app.test_cli_runner()
    refused = runner.invoke(args=["certificates", "rotate-key"])
    assert refused.exit_code != 0 and "--out" in refused.output
    assert [keys.status(r) for r in keys.published()] == ["current"]
    db.session.close()

    out = tmp_path / "new.pem"
    done = runner.invoke(args=["certificates", "rotate-key", "--out", str(out)])
    assert done.exit_code == 0, done.output
    assert f"CERT_SIGNING_KEY={out}" in done.output
    new = keys.load(str(out))
    assert {r.key_id: keys.status(r) for r in keys.published()}[new.key_id] == "current"
    assert sorted(keys.status(r) for r in keys.published()) == ["current", "retired"]


@pytest.mark.sqlite
def test_the_database_holds_one_current_key_per_algorithm(ctx):
    from sqlalchemy.exc import IntegrityError

    signing.sign(payload())
    db.session.flush()
    row = keys.published()[0]
    with pytest.raises(IntegrityError):
        db.session.execute(
            text(
                "INSERT INTO signing_keys (key_id, algorithm, public_key, created_at) "
                "VALUES (:k, 'Ed25519', :p, :c)"
            ),
            {"k": "B" * 43, "p": row.public_key, "c": row.created_at},
        )
    db.session.rollback()


@pytest.mark.sqlite
def test_the_key_setting(app, tmp_path, monkeypatch):
    from backend.app import create_app
    from config import settings

    # development: generated once under instance/, mode 0600, kept across restarts
    monkeypatch.setattr(settings, "INSTANCE", tmp_path)
    monkeypatch.delenv("CERT_SIGNING_KEY", raising=False)
    first = settings.load("development").CERT_SIGNING_KEY
    second = settings.load("development").CERT_SIGNING_KEY
    assert first == second == str(tmp_path / "cert-signing-key.pem")
    assert stat.S_IMODE(os.stat(first).st_mode) == 0o600
    keys.check_configuration(first)
    # test: a fresh key of its own for every app
    one, two = (keys.load(settings.load("test").CERT_SIGNING_KEY) for _ in range(2))
    assert one.key_id != two.key_id
    # production: required
    monkeypatch.setenv("JWT_SECRET", "j" * 40)
    monkeypatch.setenv("PII_KEY", "p" * 40)
    monkeypatch.setenv("DATABASE_URL", "sqlite://")
    with pytest.raises(RuntimeError, match="CERT_SIGNING_KEY"):
        settings.load("production")
    # a key that is not an Ed25519 private key stops the app at start-up
    for bad in ("-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----", "/nonexistent"):
        monkeypatch.setenv("CERT_SIGNING_KEY", bad)
        with pytest.raises(keys.KeyConfigError):
            create_app("test", {"DATABASE_URL": "sqlite://"})


# -- the PDF ----------------------------------------------------------------------------


def _signed_pdf(**changes) -> tuple[dict, bytes]:
    signed = signing.sign(payload(**changes))
    return signed, pdf.render(signed, VERIFY_URL)


def _fonts(data: bytes) -> set[tuple[str, bool]]:
    """(base font name, embedded?) of every font the page's text is drawn in."""
    found = set()
    doc = pdfium.PdfDocument(data)
    try:
        page = doc[0]
        for obj in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_TEXT]):
            font = pdfium_c.FPDFTextObj_GetFont(obj.raw)
            size = pdfium_c.FPDFFont_GetBaseFontName(font, None, 0)
            buf = ctypes.create_string_buffer(size)
            pdfium_c.FPDFFont_GetBaseFontName(font, buf, size)
            found.add((buf.value.decode(), bool(pdfium_c.FPDFFont_GetIsEmbedded(font))))
        page.close()
    finally:
        doc.close()
    return found


def _page_image(data: bytes):
    """(page count, first page size in points, the first page as an image at 144 dpi)."""
    doc = pdfium.PdfDocument(data)
    try:
        page = doc[0]
        size = page.get_size()
        image = page.render(scale=2).to_pil()
        page.close()
        return len(doc), size, image
    finally:
        doc.close()


def _text(data: bytes) -> str:
    doc = pdfium.PdfDocument(data)
    try:
        page = doc[0]
        textpage = page.get_textpage()
        content = textpage.get_text_range()
        textpage.close()
        page.close()
    finally:
        doc.close()
    return content


@pytest.mark.sqlite
def test_the_pdf_qr_code_decodes_back_to_the_verify_url(ctx):
    signed, data = _signed_pdf()
    assert data.startswith(b"%PDF-")
    pages, (width, height), image = _page_image(data)
    assert pages == 1
    assert (round(width), round(height)) == (595, 842)  # A4 in points
    codes = zxingcpp.read_barcodes(image)
    assert [c.format for c in codes] == [zxingcpp.BarcodeFormat.QRCode]
    assert codes[0].text == VERIFY_URL
    # and the URL is printed under it
    assert VERIFY_URL in _text(data).replace("\r", "").replace("\n", "")


@pytest.mark.sqlite
def test_the_pdf_embeds_a_cjk_font_and_carries_the_fields(ctx):
    signed, data = _signed_pdf()
    fonts = _fonts(data)
    cjk = {(name, embedded) for name, embedded in fonts if "WenQuanYi" in name}
    assert cjk and all(embedded for _, embedded in cjk), fonts
    content = _text(data)
    sig = signed["signatures"][0]
    for needed in (
        OWNER,
        "苏州工业园区2026年马拉松",  # the beneficiary
        "碳普惠减排量核销证书",  # the purpose's title
        "SIP-C-2026-000123",
        "1.500000 tCO2e",
        "1,500,000 g CO2e",
        "CN-SIP-P7-2026-1-1000000",
        "CN-SIP-S2-2025-300001-800000",
        "SIP-M-TRANSIT",
        "v1.0",
        "2026-11-24 10:00 (UTC+8)",
        sig["key_id"],
        signing.fingerprint(sig["value"]),
    ):
        assert needed in content, needed
    # the same document makes the same bytes (a PDF can be made again at any time)
    assert pdf.render(signed, VERIFY_URL) == data


@pytest.mark.sqlite
def test_the_pdf_of_an_offset_and_of_many_serials_fits_one_page(ctx):
    serials = [f"CN-SIP-S3-2026-{i * 10 + 1}-{i * 10 + 10}" for i in range(40)]
    signed, data = _signed_pdf(
        purpose="offset",
        amount_g=400,
        serials=serials,
        event={"name": "金鸡湖论坛", "date": "2026-05-01", "emissions_g": 500},
    )
    content = _text(data)
    assert "碳普惠自愿抵消证书" in content and "金鸡湖论坛" in content
    assert "and 28 more ranges" in content
    assert _page_image(data)[0] == 1


@pytest.mark.sqlite
def test_without_the_font_file_the_pdf_falls_back_and_says_so(ctx, monkeypatch, caplog, tmp_path):
    monkeypatch.setattr(pdf, "FONT_PATH", tmp_path / "missing.ttc")
    with caplog.at_level(logging.WARNING, logger="backend.certificates.pdf"):
        _, data = _signed_pdf()
    assert any("fonts-wqy-microhei" in r.getMessage() for r in caplog.records)
    fonts = _fonts(data)
    assert any(name.startswith("STSong-Light") and not emb for name, emb in fonts), fonts
    assert not any("WenQuanYi" in name for name, _ in fonts)
    codes = zxingcpp.read_barcodes(_page_image(data)[2])
    assert [c.text for c in codes] == [VERIFY_URL]


@pytest.mark.sqlite
def test_render_takes_a_signed_document():
    with pytest.raises(ValueError):
        pdf.render({"number": "SIP-C-2026-000001"}, VERIFY_URL)


# -- the payload ------------------------------------------------------------------------


@pytest.mark.sqlite
def test_tco2e_is_exact_to_six_decimals():
    assert document.tco2e(0) == "0.000000"
    assert document.tco2e(1) == "0.000001"
    assert document.tco2e(1_234_567) == "1.234567"
    assert document.tco2e(9_007_199_254_740_991) == "9007199254.740991"
    with pytest.raises(document.BadCertificate):
        document.tco2e(1.5)


@pytest.mark.sqlite
@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"amount_g": 1_500_001}, "carry 1500000 g"),
        ({"serials": ["CN-SIP-P7-2026-1-1000000", "CN-SIP-P7-2026-1000000-1499999"]}, "overlap"),
        ({"serials": ["CN-SIP-P7-2026-10-1"]}, "ends before"),
        ({"serials": ["CN-SIP-X7-2026-1-10"]}, "not a serial"),
        ({"serials": []}, "at least one"),
        ({"amount_g": 0}, "positive"),
        ({"amount_g": True}, "positive"),
        ({"number": "SIP-C-2026-0000123"}, "number"),
        ({"purpose": "sale"}, "purpose"),
        ({"owner": {"name": " "}}, "owner.name"),
        ({"issued_at": datetime(2026, 1, 1)}, "timezone"),  # noqa: DTZ001
        ({"purpose": "offset"}, "emissions"),
        (
            {"purpose": "offset", "event": {"name": "会议", "emissions_g": 1_499_999}},
            "exceed",
        ),
        ({"purpose": "donation"}, "recipient"),
        ({"recipient": "某基金会"}, "only a donation"),
        ({"period": {"start": "2026-12-31", "end": "2026-01-01"}}, "ends before"),
    ],
)
def test_an_inconsistent_certificate_is_not_built(changes, message):
    with pytest.raises(document.BadCertificate, match=message):
        payload(**changes)


@pytest.mark.sqlite
def test_a_donation_and_an_offset_are_built():
    donation = payload(purpose="donation", recipient="苏州市慈善总会", beneficiary=None)
    assert donation["recipient"] == {"name": "苏州市慈善总会", "credit_code": None}
    offset = payload(
        purpose="offset",
        event={"name": "会议", "date": "2026-03-01", "emissions_g": 1_500_000},
        period={"start": "2026-03-01", "end": "2026-03-02"},
    )
    assert offset["event"]["emissions_g"] == 1_500_000
    assert offset["issued_at"] == "2026-11-24T10:00:00+08:00"
    assert offset["amount_tco2e"] == "1.500000" and offset["format"] == document.FORMAT


# -- numbers ----------------------------------------------------------------------------


@pytest.mark.sqlite
def test_the_number_format():
    assert numbers.make_number(2026, 123) == "SIP-C-2026-000123"
    assert numbers.make_number(2026, 1_234_567) == "SIP-C-2026-1234567"
    assert numbers.parse_number("SIP-C-2026-000123") == (2026, 123)
    for bad in (
        "SIP-C-2026-0000123",
        "SIP-C-2026-12",
        "SIP-C-26-000123",
        "sip-c-2026-000123",
        "SIP-C-2026-000000",
        "SIP-C-2026-000123 ",
        None,
    ):
        assert not numbers.is_number(bad), bad
    with pytest.raises(ValueError):
        numbers.make_number(2026, 0)


@pytest.mark.sqlite
def test_numbers_run_per_year_without_gaps(ctx):
    # 2026-12-31 16:30 UTC is already 2027 in Suzhou
    at_2026 = datetime(2026, 12, 31, 15, 59, tzinfo=UTC)
    at_2027 = datetime(2026, 12, 31, 16, 30, tzinfo=UTC)
    assert numbers.next_number(at_2026) == "SIP-C-2026-000001"
    assert numbers.next_number(at_2026) == "SIP-C-2026-000002"
    assert numbers.next_number(at_2027) == "SIP-C-2027-000001"
    db.session.commit()
    numbers.next_number(at_2026)
    db.session.rollback()  # a rolled-back issue gives its number back
    assert numbers.next_number(at_2026) == "SIP-C-2026-000003"
    db.session.commit()


def test_two_issues_at_once_take_consecutive_numbers(app, clean):
    """On PostgreSQL: the second waits on the first's counter row (seen waiting in
    pg_stat_activity before the first commits), then takes the next number."""
    at = datetime(2026, 6, 1, tzinfo=UTC)
    taken: dict[str, str] = {}
    errors: list[BaseException] = []

    def second():
        try:
            with app.app_context():
                taken["second"] = numbers.next_number(at)
                db.session.commit()
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    with app.app_context():
        taken["first"] = numbers.next_number(at)  # holds the year's counter row
        worker = threading.Thread(target=second)
        worker.start()
        with app.app_context():  # a connection of its own, to watch the other two
            for _ in range(3000):
                waiting = db.session.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                        " AND wait_event_type = 'Lock' AND query ILIKE '%certificate_counters%'"
                    )
                ).scalar_one()
                db.session.rollback()
                if waiting:
                    break
                threading.Event().wait(0.01)
            assert waiting == 1
        db.session.commit()
        worker.join(60)
    assert not errors and not worker.is_alive()
    assert taken == {"first": "SIP-C-2026-000001", "second": "SIP-C-2026-000002"}
