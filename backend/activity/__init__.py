"""From trip to points: consent (bind tokens), operator uploads, accrual, retention."""
