"""The double-entry ledger: accounts, journal entries and postings, in integers.

Use `post()` (in `posting.py`) for every movement of value; `accounts.account_for()`
finds or opens an account; `invariants.check()` proves the books.
"""

from backend.ledger.accounts import AccountKind, account_for, balance_of
from backend.ledger.invariants import check as invariants
from backend.ledger.models import Account, JournalEntry, Posting
from backend.ledger.posting import AccountFrozen, InsufficientBalance, Leg, lock, post

__all__ = [
    "Account",
    "AccountFrozen",
    "AccountKind",
    "InsufficientBalance",
    "JournalEntry",
    "Leg",
    "Posting",
    "account_for",
    "balance_of",
    "invariants",
    "lock",
    "post",
]
