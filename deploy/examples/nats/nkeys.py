#!/usr/bin/env python3
"""NKeys of the platform's NATS users: one per service (login, menu, order, payment).

    python3 deploy/examples/nats/nkeys.py [--namespace pizza] [--secret pizza-nats-nkeys]

makes a fresh key pair per service and prints (1) the `users:` list for
deploy/examples/nats/values.yaml (public keys, `U…`: not secret) and (2) the Secret our chart
reads with `nats.auth.mode: nkey` (keys `<service>.nk`, each the service's seed `SU…`: secret;
apply it, never commit it). The same as `nk -gen user -pubout` once per service, for an
operator without the `nk` tool. Generating needs the `cryptography` package (Ed25519);
checking a public key (is_user_public_key, used by deploy/checks/examples.py) needs only the
standard library.

The encoding is the one of github.com/nats-io/nkeys: base32 (no padding) of a prefix byte,
the 32-byte Ed25519 key (public key, or seed) and a CRC-16/XMODEM of those, little-endian.
"""

import argparse
import base64
import os
import sys

SERVICES = ("login", "menu", "order", "payment")
PREFIX_SEED = 18 << 3  # 'S'
PREFIX_USER = 20 << 3  # 'U'


def crc16(data: bytes) -> int:
    crc = 0
    for b in data:
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc


def _encode(raw: bytes) -> str:
    c = crc16(raw)
    return base64.b32encode(raw + bytes([c & 0xFF, c >> 8])).decode().rstrip("=")


def _decode(text: str) -> bytes | None:
    try:
        raw = base64.b32decode(text + "=" * (-len(text) % 8))
    except (ValueError, TypeError):
        return None
    if len(raw) < 3 or crc16(raw[:-2]) != raw[-2] | raw[-1] << 8:
        return None
    return raw[:-2]


def is_user_public_key(text: str) -> bool:
    """A user's public NKey: 'U', 56 characters, a valid checksum, a 32-byte key."""
    raw = _decode(text) if isinstance(text, str) and len(text) == 56 else None
    return raw is not None and raw[0] == PREFIX_USER and len(raw) == 33


def is_user_seed(text: str) -> bool:
    raw = _decode(text) if isinstance(text, str) and len(text) == 58 else None
    return (raw is not None and len(raw) == 34 and raw[0] == PREFIX_SEED | PREFIX_USER >> 5
            and raw[1] == (PREFIX_USER & 31) << 3)


def user_pair(seed32: bytes | None = None) -> tuple[str, str]:
    """(seed `SU…`, public key `U…`) of a new (or the given 32-byte seed's) user key."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    seed32 = seed32 if seed32 is not None else os.urandom(32)
    pub = Ed25519PrivateKey.from_private_bytes(seed32).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    seed = _encode(bytes([PREFIX_SEED | PREFIX_USER >> 5, (PREFIX_USER & 31) << 3]) + seed32)
    return seed, _encode(bytes([PREFIX_USER]) + pub)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--namespace", default="pizza", help="namespace of our chart's release")
    ap.add_argument("--secret", default="pizza-nats-nkeys", help="nats.auth.secretName")
    args = ap.parse_args()
    pairs = {svc: user_pair() for svc in SERVICES}
    print("# deploy/examples/nats/values.yaml, config.merge.accounts.PIZZA.users:")
    for svc, (_, pub) in pairs.items():
        print(f"#   - {{nkey: {pub}}}  # {svc}")
    print("---")
    print("apiVersion: v1\nkind: Secret\nmetadata:")
    print(f"  name: {args.secret}\n  namespace: {args.namespace}\ntype: Opaque\nstringData:")
    for svc, (seed, _) in pairs.items():
        print(f"  {svc}.nk: {seed}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
