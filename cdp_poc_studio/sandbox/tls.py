"""HTTPS for the sandbox: a self-signed certificate made at first start and kept for the next ones.

Clients that only speak HTTPS (a Postman collection with `https://{{apiEndpoint}}`, SDKs with an https-only
base URL) trust it by its file (`curl --cacert`, newman `--ssl-extra-ca-certs`, httpx `verify=`). The key is
written with owner-only permissions; the certificate covers localhost, 127.0.0.1 and ::1.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from pathlib import Path

CERT_NAME = "sandbox-cert.pem"
KEY_NAME = "sandbox-key.pem"
VALID_DAYS = 825  # the longest validity Apple platforms accept for a TLS server certificate


def certificate_paths(folder: Path) -> tuple[Path, Path]:
    return folder / CERT_NAME, folder / KEY_NAME


def ensure_certificate(folder: Path) -> tuple[Path, Path]:
    """The certificate and key in `folder`, made now if absent or expired. Returns (cert path, key path)."""
    cert_path, key_path = certificate_paths(folder)
    if cert_path.is_file() and key_path.is_file() and _still_valid(cert_path):
        return cert_path, key_path
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    folder.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "CDP PoC Studio sandbox (localhost)")])
    now = dt.datetime.now(dt.UTC)
    names: list[x509.GeneralName] = [
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("::1")),
    ]
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_bytes = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key_bytes)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path


def _still_valid(cert_path: Path) -> bool:
    from cryptography import x509

    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    except ValueError:
        return False
    return cert.not_valid_after_utc > dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
