"""The reductions <-> points rate (one platform-wide, versioned rule) and exact integer
conversion between grams and points.

With `points_per_kg` = p, 1000 g buy p points. Conversion works in whole blocks of
1000/gcd(p,1000) grams = p/gcd(p,1000) points, so the grams taken always back the points
given exactly (points outstanding = backing x rate holds to the gram); a remainder that
buys no whole point stays where it was."""

from __future__ import annotations

from dataclasses import dataclass
from math import gcd

from sqlalchemy import select

from backend.db import db
from backend.errors import Conflict
from backend.registry.models import ConversionRule


@dataclass(frozen=True)
class Rate:
    version: int
    points_per_kg: int

    @property
    def _block(self) -> tuple[int, int]:
        d = gcd(self.points_per_kg, 1000)
        return 1000 // d, self.points_per_kg // d  # (grams, points) per block

    def grams_to_points(self, grams: int) -> tuple[int, int]:
        """(grams taken, points given) for at most `grams`."""
        g_block, p_block = self._block
        blocks = grams // g_block
        return blocks * g_block, blocks * p_block

    def points_to_grams(self, points: int) -> tuple[int, int]:
        """(points taken, grams given) for at most `points`."""
        g_block, p_block = self._block
        blocks = points // p_block
        return blocks * p_block, blocks * g_block


class NoRate(Conflict):
    code, title = "no_conversion_rule", "No conversion rule is set"


def current_rate() -> Rate:
    rule = db.session.execute(
        select(ConversionRule).order_by(ConversionRule.version.desc()).limit(1)
    ).scalar_one_or_none()
    if rule is None:
        raise NoRate("No reductions-to-points conversion rule has been loaded.")
    return Rate(rule.version, rule.points_per_kg)
