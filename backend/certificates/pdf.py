"""The printable certificate: one A4 page with the Chinese text in an embedded CJK font
(WenQuanYi Micro Hei, Debian's `fonts-wqy-microhei`), every field of the signed
document, and a QR code of the verify URL with the URL printed under it.

Without the font file the page falls back to reportlab's `STSong-Light` CID font (not
embedded: a PDF reader supplies it) and says so in the log. The same document renders
to the same bytes (reportlab's invariant mode), so a PDF can be made again at any time.
"""

from __future__ import annotations

import io
import logging
import threading
from datetime import datetime
from pathlib import Path
from xml.sax.saxutils import escape

import qrcode
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas
from reportlab.platypus import KeepInFrame, Paragraph, Table, TableStyle

from backend.certificates.document import CHINA, tco2e
from backend.certificates.signing import fingerprint

log = logging.getLogger("backend.certificates.pdf")

FONT_PATH = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
EMBEDDED_FONT = "WenQuanYiMicroHei"
FALLBACK_FONT = "STSong-Light"
MONO_FONT = "Courier"
MAX_SERIAL_LINES = 12

PAGE_W, PAGE_H = A4
MARGIN = 42
INK = colors.HexColor("#1F3A2E")
ACCENT = colors.HexColor("#2E7D4F")
MUTED = colors.HexColor("#5B6B63")

TITLES = {
    "issuance": ("碳普惠减排量签发证书", "Certificate of Issuance"),
    "retirement": ("碳普惠减排量核销证书", "Certificate of Retirement"),
    "offset": ("碳普惠自愿抵消证书", "Certificate of Voluntary Offset"),
    "cancellation": ("碳普惠减排量注销证书", "Certificate of Voluntary Cancellation"),
    "donation": ("碳普惠减排量捐赠证书", "Certificate of Donation"),
}
PURPOSES = {
    "issuance": "签发 Issuance",
    "retirement": "核销 Retirement",
    "offset": "自愿抵消 Voluntary offset",
    "cancellation": "自愿注销 Voluntary cancellation",
    "donation": "捐赠 Donation",
}

_fonts: dict[str, str] = {}
_fonts_lock = threading.Lock()


def font_name() -> str:
    """The registered CJK font: the embedded TrueType font when its file is there, else
    the CID fallback (logged once per process)."""
    key = str(FONT_PATH)
    with _fonts_lock:
        if key in _fonts:
            return _fonts[key]
        if FONT_PATH.is_file():
            try:
                name = f"{EMBEDDED_FONT}-{len(_fonts)}" if _fonts else EMBEDDED_FONT
                pdfmetrics.registerFont(TTFont(name, str(FONT_PATH), subfontIndex=0))
                _fonts[key] = name
                return name
            except Exception:  # noqa: BLE001 - a broken font file: fall back, and say so
                log.exception("cannot load the CJK font %s", FONT_PATH)
        log.warning(
            "CJK font %s is missing; certificates use the %s CID font, not embedded "
            "(install fonts-wqy-microhei)",
            FONT_PATH,
            FALLBACK_FONT,
        )
        pdfmetrics.registerFont(UnicodeCIDFont(FALLBACK_FONT))
        _fonts[key] = FALLBACK_FONT
        return FALLBACK_FONT


def _grams(value: int) -> str:
    return f"{value:,} g CO2e"


def _tonnes(value: int) -> str:
    whole, frac = tco2e(value).split(".")
    return f"{int(whole):,}.{frac} tCO2e"


def _when(value: str | None) -> str:
    if not value:
        return "—"
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return str(value)
    if moment.tzinfo is None:
        return moment.isoformat()
    local = moment.astimezone(CHINA)
    return f"{local:%Y-%m-%d %H:%M} (UTC+8)"


def _party(party: dict | None) -> str:
    if not party:
        return "—"
    name = escape(str(party.get("name") or "—"))
    code = party.get("credit_code")
    return f"{name}<br/>统一社会信用代码 {escape(str(code))}" if code else name


class _Styles:
    def __init__(self, font: str):
        self.value = ParagraphStyle(
            "value", fontName=font, fontSize=10, leading=14, textColor=INK, wordWrap="CJK"
        )
        self.label = ParagraphStyle(
            "label", fontName=font, fontSize=9.5, leading=12.5, textColor=MUTED, wordWrap="CJK"
        )
        self.mono = ParagraphStyle(
            "mono", fontName=MONO_FONT, fontSize=8.5, leading=11.5, textColor=INK
        )


def _label(zh: str, en: str, st: _Styles) -> Paragraph:
    return Paragraph(f"{zh}<br/><font size=7.5>{en}</font>", st.label)


def _rows(cert: dict, signature: dict | None, st: _Styles) -> list[list]:
    purpose = cert.get("purpose")
    amount = cert.get("amount_g")
    rows: list[tuple[str, str, Paragraph]] = [
        ("用途", "Purpose", Paragraph(escape(PURPOSES.get(purpose, str(purpose))), st.value)),
        ("持有方", "Owner", Paragraph(_party(cert.get("owner")), st.value)),
        (
            "受益方",
            "On behalf of",
            Paragraph(escape(cert.get("beneficiary") or "—"), st.value),
        ),
    ]
    if cert.get("recipient"):
        rows.append(("受赠方", "Recipient", Paragraph(_party(cert["recipient"]), st.value)))
    if isinstance(amount, int) and not isinstance(amount, bool):
        amount_text = f"<b>{_tonnes(amount)}</b><br/>{_grams(amount)}"
    else:
        amount_text = escape(str(amount))
    rows.append(("数量", "Amount", Paragraph(amount_text, st.value)))
    serials = [str(s) for s in cert.get("serials") or []]
    shown = [escape(s) for s in serials[:MAX_SERIAL_LINES]]
    if len(serials) > MAX_SERIAL_LINES:
        rest = len(serials) - MAX_SERIAL_LINES
        shown.append(f"… 另有 {rest} 段 / and {rest} more ranges (see the verify page)")
    rows.append(
        ("序列号", "Serial numbers", Paragraph("<br/>".join(shown) or "—", st.mono)),
    )
    methods = []
    for m in cert.get("methodologies") or []:
        line = f"{m.get('code')} 版本 v{m.get('version')}"
        if m.get("title"):
            line += f"  {m['title']}"
        methods.append(escape(line))
    rows.append(("方法学", "Methodology", Paragraph("<br/>".join(methods) or "—", st.value)))
    event = cert.get("event")
    if event:
        text = escape(str(event.get("name")))
        if event.get("date"):
            text += f"  {escape(str(event['date']))}"
        if isinstance(event.get("emissions_g"), int):
            text += f"<br/>排放量 Emissions: {_tonnes(event['emissions_g'])}"
        rows.append(("抵消对象", "Event offset", Paragraph(text, st.value)))
    period = cert.get("period")
    if period:
        text = f"{escape(str(period.get('start')))} — {escape(str(period.get('end')))}"
        rows.append(("期间", "Period", Paragraph(text, st.value)))
    if cert.get("reason"):
        rows.append(("原因", "Reason", Paragraph(escape(cert["reason"]), st.value)))
    rows.append(("签发日期", "Issued", Paragraph(_when(cert.get("issued_at")), st.value)))
    if signature:
        rows.append(
            ("签名密钥", "Signing key", Paragraph(escape(str(signature.get("key_id"))), st.mono))
        )
        rows.append(
            (
                "签名指纹",
                "Signature fingerprint",
                Paragraph(
                    f"{fingerprint(str(signature.get('value')))}  "
                    f"({escape(str(signature.get('alg')))})",
                    st.mono,
                ),
            )
        )
    else:
        rows.append(("签名", "Signature", Paragraph("未签名 Unsigned", st.value)))
    return [[_label(zh, en, st), value] for zh, en, value in rows]


def _qr(c: canvas.Canvas, data: str, x: float, y: float, size: float) -> None:
    """The QR code of `data` drawn as vector squares (crisp at any print size), its quiet
    zone included, lower-left corner at (x, y)."""
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
    qr.add_data(data)
    qr.make(fit=True)
    matrix = qr.get_matrix()
    n = len(matrix)
    cell = size / n
    c.setFillColor(colors.white)
    c.rect(x, y, size, size, stroke=0, fill=1)
    c.setFillColor(colors.black)
    for r, row in enumerate(matrix):
        col = 0
        while col < n:
            if row[col]:
                start = col
                while col < n and row[col]:
                    col += 1
                c.rect(
                    x + start * cell,
                    y + size - (r + 1) * cell,
                    (col - start) * cell,
                    cell,
                    stroke=0,
                    fill=1,
                )
            else:
                col += 1


def _wrap_chars(text: str, font: str, size: float, width: float) -> list[str]:
    lines, line = [], ""
    for ch in text:
        if line and pdfmetrics.stringWidth(line + ch, font, size) > width:
            lines.append(line)
            line = ""
        line += ch
    return [*lines, line] if line else lines


def render(document: dict, verify_url: str) -> bytes:
    """The PDF of a signed document (what `signing.sign()` returns): the certificate's
    fields, its first signature's key id and fingerprint, and a QR code of `verify_url`."""
    if not isinstance(document, dict) or not isinstance(document.get("certificate"), dict):
        raise ValueError("render takes a signed document {certificate, signatures}")
    cert = document["certificate"]
    signatures = document.get("signatures") or []
    signature = signatures[0] if signatures and isinstance(signatures[0], dict) else None
    font = font_name()
    st = _Styles(font)
    zh_title, en_title = TITLES.get(cert.get("purpose"), ("碳普惠减排量证书", "Certificate"))
    number = str(cert.get("number") or "")

    out = io.BytesIO()
    c = canvas.Canvas(out, pagesize=A4, invariant=1, pageCompression=1)
    c.setTitle(f"{number} {en_title}")
    c.setAuthor("SIP carbon-inclusion registry")
    c.setSubject(en_title)
    c.setCreator("sip-carbon-points")

    # frame
    c.setStrokeColor(ACCENT)
    c.setLineWidth(2)
    c.rect(MARGIN - 14, MARGIN - 14, PAGE_W - 2 * (MARGIN - 14), PAGE_H - 2 * (MARGIN - 14))
    c.setLineWidth(0.6)
    c.rect(MARGIN - 9, MARGIN - 9, PAGE_W - 2 * (MARGIN - 9), PAGE_H - 2 * (MARGIN - 9))

    # heading
    top = PAGE_H - MARGIN
    c.setFillColor(MUTED)
    c.setFont(font, 11)
    c.drawCentredString(PAGE_W / 2, top - 16, "苏州工业园区碳普惠服务平台")
    c.setFont(font, 8)
    c.drawCentredString(
        PAGE_W / 2, top - 29, "Suzhou Industrial Park Carbon-Inclusion Service Platform"
    )
    c.setFillColor(INK)
    c.setFont(font, 24)
    c.drawCentredString(PAGE_W / 2, top - 66, zh_title)
    c.setFont(font, 12)
    c.drawCentredString(PAGE_W / 2, top - 86, en_title)
    c.setFont(font, 10.5)
    c.setFillColor(ACCENT)
    c.drawCentredString(PAGE_W / 2, top - 110, f"证书编号 Certificate No.  {number}")
    c.setStrokeColor(ACCENT)
    c.setLineWidth(0.8)
    c.line(MARGIN + 20, top - 122, PAGE_W - MARGIN - 20, top - 122)

    # the QR block at the foot
    qr_size = 118
    qr_x, qr_y = PAGE_W - MARGIN - qr_size - 4, MARGIN + 36
    _qr(c, verify_url, qr_x, qr_y, qr_size)
    c.setFillColor(MUTED)
    c.setFont(font, 8)
    c.drawCentredString(qr_x + qr_size / 2, qr_y + qr_size + 6, "扫码验证 Scan to verify")
    url_lines = _wrap_chars(verify_url, MONO_FONT, 7, PAGE_W - 2 * MARGIN - 8)
    c.setFont(MONO_FONT, 7)
    c.setFillColor(INK)
    for i, line in enumerate(url_lines[:3]):
        c.drawRightString(PAGE_W - MARGIN - 4, qr_y - 11 - i * 9, line)
    note = [
        "本证书数据以 RFC 8785 规范化 JSON 表示并以 Ed25519 签名，公钥公开于 /api/v1/public/keys。",
        "扫描二维码或访问二维码下方的网址，可核验签名及序列号的当前状态。",
        "The certificate's data are RFC 8785 canonical JSON signed with Ed25519; the",
        "public keys are published at /api/v1/public/keys. Scan the code or open the address",
        "under it to check the signature and the current state of the serial numbers.",
    ]
    c.setFont(font, 7.5)
    c.setFillColor(MUTED)
    for i, line in enumerate(note):
        c.drawString(MARGIN + 4, qr_y + qr_size - 10 - i * 12, line)

    # the fields, shrunk to fit between the heading and the QR block
    table = Table(_rows(cert, signature, st), colWidths=[118, PAGE_W - 2 * MARGIN - 126])
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LINEBELOW", (0, 0), (-1, -2), 0.3, colors.HexColor("#C9D6CE")),
                ("TOPPADDING", (0, 0), (-1, -1), 5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 5),
                ("LEFTPADDING", (0, 0), (-1, -1), 4),
            ]
        )
    )
    frame_top = top - 132
    frame_bottom = qr_y + qr_size + 22
    frame_w = PAGE_W - 2 * MARGIN - 8
    fitted = KeepInFrame(frame_w, frame_top - frame_bottom, [table], mode="shrink")
    _w, h = fitted.wrapOn(c, frame_w, frame_top - frame_bottom)
    fitted.drawOn(c, MARGIN + 4, frame_top - h)

    c.showPage()
    c.save()
    return out.getvalue()
