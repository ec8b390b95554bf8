"""Reductions in the registry (Art. 16-18, 21-23): serial blocks in grams, issuance,
agreement transfers, uses (retirement, offset, cancellation, donation) and disclosure."""
