"""The HTTPS probe: a TLS handshake with the edge, the domain as SNI, to read the certificate
served for it (issuer, expiry). It connects only to TLS_PROBE_ADDR, or to the domain itself."""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from cryptography import x509
from cryptography.x509.oid import ExtensionOID, NameOID

PROBE_TIMEOUT = 10.0  # Caddy issues on demand during this very handshake


@dataclass
class ProbeResult:
    issuer: str | None
    expires_at: datetime | None
    error: str


def _address(name: str, probe_addr: str | None) -> tuple[str, int]:
    if not probe_addr:
        return name, 443
    if probe_addr.startswith("["):
        host, _, port = probe_addr[1:].partition("]:")
        return host, int(port or 443)
    if probe_addr.count(":") == 1:
        host, _, port = probe_addr.partition(":")
        return host, int(port)
    return probe_addr, 443


@lru_cache(maxsize=1)
def _context() -> ssl.SSLContext:
    # We read the certificate ourselves; trust is Caddy's business (tests use its internal CA).
    # No CA store loaded: building a default context costs ~10 ms; a sweep probes many names.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def probe(name: str, probe_addr: str | None, timeout: float = PROBE_TIMEOUT) -> ProbeResult:
    context = _context()
    try:
        with (
            socket.create_connection(_address(name, probe_addr), timeout=timeout) as raw,
            context.wrap_socket(raw, server_hostname=name) as tls,
        ):
            der = tls.getpeercert(binary_form=True)
    except (OSError, ssl.SSLError, ValueError) as exc:
        return ProbeResult(None, None, f"{type(exc).__name__}: {exc}"[:500])
    if not der:
        return ProbeResult(None, None, "no certificate")
    certificate = x509.load_der_x509_certificate(der)
    try:
        san = certificate.extensions.get_extension_for_oid(
            ExtensionOID.SUBJECT_ALTERNATIVE_NAME
        ).value.get_values_for_type(x509.DNSName)
    except x509.ExtensionNotFound:
        san = []
    issuer_parts = certificate.issuer.get_attributes_for_oid(NameOID.COMMON_NAME) or (
        certificate.issuer.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    )
    issuer = str(issuer_parts[0].value) if issuer_parts else certificate.issuer.rfc4514_string()
    expires = certificate.not_valid_after_utc.astimezone(UTC)
    if name.lower() not in [value.lower() for value in san]:
        return ProbeResult(
            issuer, expires, f"the certificate is for {', '.join(san) or 'another name'}"
        )
    if expires <= datetime.now(UTC):
        return ProbeResult(issuer, expires, "the certificate has expired")
    return ProbeResult(issuer, expires, "")
