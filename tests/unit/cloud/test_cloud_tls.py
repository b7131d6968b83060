"""The self-signed certificate: names loopback, private key is private, reused on restart."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from cryptography import x509

from dmsim.cloud import ensure_certificate

NOW_NS = 1_700_000_000 * 10**9


def test_certificate_names_loopback_and_is_reused(tmp_path: Path) -> None:
    files = ensure_certificate(tmp_path, now_ns=NOW_NS)
    cert = x509.load_pem_x509_certificate(files.cert_path.read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert ipaddress.ip_address("127.0.0.1") in names.get_values_for_type(x509.IPAddress)
    assert (
        cert.not_valid_before_utc.timestamp() < NOW_NS / 1e9 < cert.not_valid_after_utc.timestamp()
    )
    assert files.key_path.stat().st_mode & 0o077 == 0
    before = files.cert_path.read_bytes()
    assert ensure_certificate(tmp_path, now_ns=NOW_NS + 10**12) == files
    assert files.cert_path.read_bytes() == before
