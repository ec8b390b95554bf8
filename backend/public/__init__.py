"""Public disclosure (Art. 25): platform totals, never personal data."""
