"""A self-signed TLS certificate for the fake cloud on loopback, and the SSL contexts.

``ensure_certificate(directory)`` writes ``cloud-cert.pem`` (give it to clients to trust) and
``cloud-key.pem`` (mode 0600) once and reuses them afterwards, so clients keep trusting a
restarted server. The certificate names ``localhost``, ``127.0.0.1`` and ``::1``.
"""

from __future__ import annotations

import ipaddress
import os
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

__all__ = ["TlsFiles", "client_ssl_context", "ensure_certificate", "server_ssl_context"]

CERT_NAME = "cloud-cert.pem"
KEY_NAME = "cloud-key.pem"
_VALIDITY = timedelta(days=3650)


@dataclass(frozen=True, slots=True)
class TlsFiles:
    cert_path: Path
    key_path: Path


def ensure_certificate(directory: Path, *, now_ns: int) -> TlsFiles:
    """Create the key and certificate in ``directory`` unless both exist already."""
    files = TlsFiles(directory / CERT_NAME, directory / KEY_NAME)
    if files.cert_path.exists() and files.key_path.exists():
        return files
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dmsim fake cloud")])
    start = datetime.fromtimestamp(now_ns / 1e9, tz=UTC) - timedelta(days=1)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + _VALIDITY)
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    x509.IPAddress(ipaddress.ip_address("::1")),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _write_atomically(files.key_path, key_pem, mode=0o600)
    _write_atomically(files.cert_path, cert.public_bytes(serialization.Encoding.PEM), mode=0o644)
    return files


def _write_atomically(path: Path, data: bytes, *, mode: int) -> None:
    partial = path.with_suffix(".part")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(partial, path)


def server_ssl_context(files: TlsFiles) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(files.cert_path, files.key_path)
    context.set_alpn_protocols(["h2"])
    return context


def client_ssl_context(cert_path: Path) -> ssl.SSLContext:
    """Trust exactly the fake cloud's certificate."""
    context = ssl.create_default_context(cafile=str(cert_path))
    context.set_alpn_protocols(["h2"])
    return context
