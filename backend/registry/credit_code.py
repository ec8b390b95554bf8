"""Unified social credit codes (统一社会信用代码), GB 32100-2015: 18 characters from a
31-character set; the last is a check character over the first 17."""

from __future__ import annotations

CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = [pow(3, i, 31) for i in range(17)]


def check_char(first17: str) -> str:
    total = sum(CHARSET.index(c) * w for c, w in zip(first17, WEIGHTS, strict=True))
    return CHARSET[(31 - total % 31) % 31]


def is_valid(code: str) -> bool:
    if not isinstance(code, str) or len(code) != 18 or any(c not in CHARSET for c in code):
        return False
    return check_char(code[:17]) == code[17]
