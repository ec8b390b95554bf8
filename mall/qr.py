"""Redemption codes and their QR images.

A code is 80 random bits (`secrets`) written as 16 Crockford base32 characters, shown
in groups of four (`7K3M-9QXD-2HPT-W4ZA`): no I, L, O or U, so it reads aloud and types
at a till without ambiguity. Input is forgiving: case, spaces and dashes are ignored
and the look-alikes O -> 0, I/L -> 1 are mapped, as Crockford's alphabet intends.
Guessing one live code takes ~2^80 / (codes live) tries."""

from __future__ import annotations

import io
import secrets

import qrcode
from qrcode.constants import ERROR_CORRECT_M

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LENGTH = 16  # 16 x 5 bits = 80 bits
_LOOKALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})
_VALID = frozenset(ALPHABET)


def new_code() -> str:
    """A fresh code (stored form: 16 characters, no separators)."""
    value = int.from_bytes(secrets.token_bytes(10), "big")
    chars = []
    for _ in range(LENGTH):
        value, digit = divmod(value, 32)
        chars.append(ALPHABET[digit])
    return "".join(reversed(chars))


def display(code: str) -> str:
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def normalize(raw: str) -> str | None:
    """The stored form of what a till typed or scanned, or None if it cannot be a code."""
    cleaned = "".join(ch for ch in raw.upper() if ch not in " -\t").translate(_LOOKALIKES)
    if len(cleaned) != LENGTH or not set(cleaned) <= _VALID:
        return None
    return cleaned


def qr_matrix(code: str) -> list[list[bool]]:
    """The QR symbol's modules (without the quiet zone) for `code`."""
    qr = _symbol(code)
    return [
        row[qr.border : len(row) - qr.border] for row in qr.get_matrix()[qr.border : -qr.border]
    ]


def _symbol(code: str) -> qrcode.QRCode:
    # The display form is QR alphanumeric (0-9, A-Z, '-'): 19 characters fit version 1
    # (21 x 21 modules) at level M, small enough to scan from a phone screen.
    qr = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=BOX, border=BORDER)
    qr.add_data(display(code), optimize=0)
    qr.make(fit=True)
    return qr


BOX = 10  # pixels per module
BORDER = 4  # quiet zone, in modules (the QR standard's minimum)


def qr_png(code: str) -> bytes:
    """A PNG of the QR code of the display form of `code`."""
    img = _symbol(code).make_image()
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()
