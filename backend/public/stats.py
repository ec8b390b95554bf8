"""Public totals (Art. 25: regular disclosure): aggregates only, never personal data.

Each figure comes from account balances, the small settlements table or the table of
credited residents, so the query never reads the ledger's postings:
- residents taking part: residents accrual has ever credited (`credited_residents`, one
  row per resident, written with the credit; also those whose grams auto-convert turned
  into points at once);
- reductions credited: what the scenario issuance accounts gave out (-their balances);
- points converted back: points the settled batches returned to the mint, and the grams
  they gave merchants;
- points issued: points the mint gave out, ever (outstanding now + converted back);
- points redeemed: points that reached merchants (merchant balances + converted back).
"""

from __future__ import annotations

from sqlalchemy import text

from backend.db import db, utcnow

_TOTALS = text(
    """
    SELECT
      (SELECT COUNT(*) FROM credited_residents) AS residents,
      (SELECT COALESCE(-SUM(balance), 0) FROM accounts WHERE kind = 'scenario_issuance')
        AS credited_g,
      (SELECT COALESCE(-SUM(balance), 0) FROM accounts WHERE kind = 'points_mint')
        AS outstanding,
      (SELECT COALESCE(SUM(balance), 0) FROM accounts WHERE kind = 'merchant_points')
        AS at_merchants,
      (SELECT COALESCE(SUM(points_converted), 0) FROM settlement_batches
        WHERE status = 'settled') AS converted_pt,
      (SELECT COALESCE(SUM(reductions_g), 0) FROM settlement_batches
        WHERE status = 'settled') AS converted_g
    """
)


def totals() -> dict:
    row = db.session.execute(_TOTALS).one()
    residents, credited, outstanding, at_merchants, converted_pt, converted_g = (
        int(v) for v in row
    )
    return {
        "as_of": utcnow(),
        "residents_participating": residents,
        "reductions_credited_g": credited,
        "points_issued": outstanding + converted_pt,
        "points_redeemed": at_merchants + converted_pt,
        "points_converted_back": converted_pt,
        "reductions_converted_back_g": converted_g,
    }
