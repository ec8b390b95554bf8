"""Certificates anyone can verify: canonical JSON signed with Ed25519 (a key ring whose
public keys are published), a printable PDF with a QR code, and the certificate number."""
