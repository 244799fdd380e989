"""TLS certificates and SuperNode authentication keys for a Flower federation.

``python -m fedmix.flower.credentials DIR --host HOST [--sites A,B,C]`` writes, into DIR:

- ``ca.crt`` / ``ca.key``: a self-signed certificate authority (the key stays with whoever runs
  the SuperLink; the certificate is given to every site to verify the SuperLink);
- ``server.pem`` / ``server.key``: the SuperLink's TLS certificate, signed by the CA, valid for
  ``HOST`` (a DNS name or an IP address) and 127.0.0.1/localhost;
- ``<site>`` / ``<site>.pub`` (with ``--sites``): one EC key pair per site in OpenSSH format;
  each site keeps its private key, the coordinator registers the ``.pub`` files.

Self-signed credentials are fine for a pilot; a hospital network will usually issue its own.
"""

from __future__ import annotations

import argparse
import datetime
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

__all__ = ["write_node_keys", "write_tls_credentials"]

_VALID_DAYS = 365


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _san(host: str) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = [
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
    ]
    try:
        names.append(x509.IPAddress(ipaddress.ip_address(host)))
    except ValueError:
        names.append(x509.DNSName(host))
    return list(dict.fromkeys(names))


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def write_tls_credentials(out_dir: str | Path, host: str = "127.0.0.1") -> dict[str, Path]:
    """Write a CA and a SuperLink certificate for ``host``; return the paths by role."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    validity = (now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=_VALID_DAYS))
    ca_key = ec.generate_private_key(ec.SECP384R1())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("fedmix federation CA"))
        .issuer_name(_name("fedmix federation CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(validity[0])
        .not_valid_after(validity[1])
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP384R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(host))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(validity[0])
        .not_valid_after(validity[1])
        .add_extension(x509.SubjectAlternativeName(_san(host)), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    paths = {
        "ca_cert": out / "ca.crt",
        "ca_key": out / "ca.key",
        "server_cert": out / "server.pem",
        "server_key": out / "server.key",
    }
    paths["ca_cert"].write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    paths["server_cert"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    for role, k in (("ca_key", ca_key), ("server_key", key)):
        paths[role].write_bytes(_pem_key(k))
        paths[role].chmod(0o600)
    return paths


def write_node_keys(out_dir: str | Path, name: str) -> tuple[Path, Path]:
    """Write one site's authentication key pair (OpenSSH EC P-384); return (private, public)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP384R1())
    private, public = out / name, out / f"{name}.pub"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )
    )
    private.chmod(0o600)
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
        )
        + b"\n"
    )
    return private, public


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", help="directory to write the credentials into")
    parser.add_argument("--host", default="127.0.0.1", help="the SuperLink's address")
    parser.add_argument("--sites", default="", help="comma-separated site names: key pairs")
    args = parser.parse_args(argv)
    for role, path in write_tls_credentials(args.out_dir, args.host).items():
        print(f"{role}: {path}")
    for site in filter(None, args.sites.split(",")):
        private, public = write_node_keys(args.out_dir, site)
        print(f"{site}: {private} (keep at the site), {public} (register with the SuperLink)")


if __name__ == "__main__":
    main()
