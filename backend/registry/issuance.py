"""Issuance (Art. 16): approving an issuance application issues the project's reductions
into its owner's account, as a serial block, and publishes it."""

from __future__ import annotations


def issue(app):
    raise NotImplementedError("issuance lands with the serial blocks (registry part two)")
