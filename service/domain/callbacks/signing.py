"""Callback signatures in the Standard Webhooks format, made by its own library.

An integration verifies them with any Standard Webhooks library and the secret in its
``whsec_<base64>`` form: ``Webhook(secret).verify(body, headers)``. Secrets generated here
are 32 random bytes in that form. Secrets an integration chose before (any 16+ printable
characters) keep working: their key is their UTF-8 bytes, which in Standard Webhooks form
is ``whsec_`` + base64 of the text; ``standard_secret`` gives that form.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from datetime import datetime

from standardwebhooks import Webhook

PREFIX = "whsec_"
GENERATED_BYTES = 32
# The range the Standard Webhooks specification recommends for secrets.
MIN_KEY_BYTES = 24
MAX_KEY_BYTES = 64


def generate_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(GENERATED_BYTES)).decode()


def signing_key(secret: str) -> bytes:
    """The HMAC key of ``secret``; ValueError for a ``whsec_`` secret that is not base64.

    Decoded strictly: the library's own decoder skips characters that are not base64, so a
    mistyped secret would silently become a different key.
    """
    if not secret.startswith(PREFIX):
        return secret.encode()
    body = secret[len(PREFIX) :]
    try:
        key = base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
    except binascii.Error:
        raise ValueError("a whsec_ secret must be base64 after the prefix") from None
    if not MIN_KEY_BYTES <= len(key) <= MAX_KEY_BYTES:
        raise ValueError(
            f"a whsec_ secret must decode to {MIN_KEY_BYTES}-{MAX_KEY_BYTES} bytes, not {len(key)}"
        )
    return key


def standard_secret(secret: str) -> str:
    """``secret`` in the ``whsec_<base64>`` form every Standard Webhooks library accepts."""
    return PREFIX + base64.b64encode(signing_key(secret)).decode()


def signed_headers(
    secret: str, *, message_id: str, body: bytes, timestamp: datetime
) -> dict[str, str]:
    """``webhook-id``, ``webhook-timestamp`` and ``webhook-signature`` for one attempt.

    ``message_id`` is the delivery id, the same on every retry, so a receiver can drop
    duplicates; the timestamp is the attempt's, so receivers can refuse replays.
    """
    key = signing_key(secret)
    if not key:
        raise ValueError("refusing to sign with an empty secret")
    signature = Webhook(key).sign(msg_id=message_id, timestamp=timestamp, data=body.decode())
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": signature,
    }
