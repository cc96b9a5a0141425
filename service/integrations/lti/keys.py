"""The tool's RSA signing keys: made by the service, published at /.well-known/jwks.json,
rotated without breaking what is in flight.

A key is generated on first use (RSA 2048) and stored as PKCS#8 PEM encrypted with
``GRADER_LTI_KEY_PASSPHRASE``, or, when that is unset, with a secret the deployment keeps in
its database (convenient for one machine, no protection against someone who can read the
database: the README says to set the passphrase). ``GRADER_LTI_KEY_FILE`` replaces all of
this with one key read from a PEM file. Rotating makes a new key the signing one and keeps
the old one published for ``RETIRED_PUBLISHED``, longer than anything it signed lives.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from service.config import Settings
from service.db.models import LtiToolKey
from service.domain.sessions.service import deployment_secret
from service.integrations.lti.tokens import ALGORITHM, ASSERTION_SECONDS, SigningKey

log = logging.getLogger(__name__)

KEY_BITS = 2048
# A retired key verifies what it signed (5-minute assertions and deep-linking responses)
# for an hour more; platforms that cached our key set refetch on the new kid.
RETIRED_PUBLISHED = timedelta(seconds=ASSERTION_SECONDS) + timedelta(minutes=55)
_SECRET_NAME = "lti-key-encryption"

# Decrypting a PEM costs a key derivation; a kid never changes what it names, so a cache by
# kid is safe in every process.
_decrypted: dict[str, bytes] = {}
_lock = threading.Lock()


class KeyFileUnusable(RuntimeError):
    pass


def _passphrase(session: Session, settings: Settings) -> bytes:
    if settings.lti_key_passphrase is not None:
        return settings.lti_key_passphrase.get_secret_value().encode()
    return deployment_secret(session, _SECRET_NAME).encode()


def thumbprint(public_jwk: dict[str, Any]) -> str:
    """RFC 7638 thumbprint of an RSA JWK: a kid that names the key itself."""
    members = {name: public_jwk[name] for name in ("e", "kty", "n")}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def _jwk_of(private: rsa.RSAPrivateKey) -> dict[str, Any]:
    jwk: dict[str, Any] = RSAAlgorithm.to_jwk(private.public_key(), as_dict=True)
    return jwk


def _published(jwk: dict[str, Any], kid: str) -> dict[str, Any]:
    return {**jwk, "kid": kid, "alg": ALGORITHM, "use": "sig"}


# The key file parsed, by (path, modification time, size, passphrase): every signature and every key
# set request would otherwise read and parse the PEM again; replacing the file (the way to
# rotate it) changes the stamp, so the new key is read on the next use.
_from_files: dict[tuple[str, int, int, str], tuple[SigningKey, dict[str, Any]]] = {}


def _from_file(settings: Settings) -> tuple[SigningKey, dict[str, Any]]:
    assert settings.lti_key_file is not None
    try:
        stat = settings.lti_key_file.stat()
    except OSError as exc:
        raise KeyFileUnusable(f"GRADER_LTI_KEY_FILE cannot be read: {exc}") from None
    passphrase = settings.lti_key_passphrase
    secret = passphrase.get_secret_value() if passphrase else ""
    stamp = (str(settings.lti_key_file), stat.st_mtime_ns, stat.st_size, secret)
    with _lock:
        known = _from_files.get(stamp)
    if known is None:
        known = _parse_file(settings)
        with _lock:
            _from_files.clear()  # one file per deployment: keep only its current version
            _from_files[stamp] = known
    return known


def _parse_file(settings: Settings) -> tuple[SigningKey, dict[str, Any]]:
    assert settings.lti_key_file is not None
    password = (
        settings.lti_key_passphrase.get_secret_value().encode()
        if settings.lti_key_passphrase
        else None
    )
    try:
        private = serialization.load_pem_private_key(
            settings.lti_key_file.read_bytes(), password=password
        )
    except (OSError, ValueError, TypeError) as exc:
        raise KeyFileUnusable(f"GRADER_LTI_KEY_FILE cannot be read as a PEM key: {exc}") from None
    if not isinstance(private, rsa.RSAPrivateKey) or private.key_size < KEY_BITS:
        raise KeyFileUnusable("GRADER_LTI_KEY_FILE must hold an RSA key of 2048 bits or more")
    jwk = _jwk_of(private)
    kid = thumbprint(jwk)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return SigningKey(kid, pem), _published(jwk, kid)


def _new_key(session: Session, settings: Settings) -> LtiToolKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    jwk = _jwk_of(private)
    kid = thumbprint(jwk)
    encrypted = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(_passphrase(session, settings)),
    )
    row = LtiToolKey(kid=kid, private_pem=encrypted.decode(), public_jwk=_published(jwk, kid))
    session.add(row)
    session.flush()
    log.info("made LTI signing key %s", kid)
    return row


def _signing_row(session: Session) -> LtiToolKey | None:
    stmt = (
        select(LtiToolKey)
        .where(LtiToolKey.retired_at.is_(None))
        .order_by(LtiToolKey.created_at.desc(), LtiToolKey.kid)
        .limit(1)
    )
    return session.scalars(stmt).first()


def signing_key(session: Session, settings: Settings) -> SigningKey:
    """The key the tool signs with now (made on first use)."""
    if settings.lti_key_file is not None:
        return _from_file(settings)[0]
    row = _signing_row(session) or _new_key(session, settings)
    with _lock:
        pem = _decrypted.get(row.kid)
    if pem is None:
        private = serialization.load_pem_private_key(
            row.private_pem.encode(), password=_passphrase(session, settings)
        )
        pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        with _lock:
            _decrypted[row.kid] = pem
    return SigningKey(row.kid, pem)


def key_set(session: Session, settings: Settings, *, now: datetime) -> dict[str, Any]:
    """The public JWKS: the signing key and the retired keys still within their grace."""
    if settings.lti_key_file is not None:
        return {"keys": [_from_file(settings)[1]]}
    if _signing_row(session) is None:
        _new_key(session, settings)
    stmt = (
        select(LtiToolKey)
        .where(
            (LtiToolKey.retired_at.is_(None)) | (LtiToolKey.retired_at > now - RETIRED_PUBLISHED)
        )
        .order_by(LtiToolKey.created_at.desc(), LtiToolKey.kid)
    )
    return {"keys": [row.public_jwk for row in session.scalars(stmt)]}


def rotate(session: Session, settings: Settings, *, now: datetime) -> LtiToolKey:
    """A new signing key; the previous one stays published for ``RETIRED_PUBLISHED``."""
    if settings.lti_key_file is not None:
        raise KeyFileUnusable("the signing key comes from GRADER_LTI_KEY_FILE: replace the file")
    for row in session.scalars(select(LtiToolKey).where(LtiToolKey.retired_at.is_(None))):
        row.retired_at = now
    session.flush()
    return _new_key(session, settings)


def delete_retired(session: Session, *, now: datetime) -> int:
    """Retired keys past their grace sign nothing that could still be checked."""
    result = session.execute(
        delete(LtiToolKey).where(LtiToolKey.retired_at < now - RETIRED_PUBLISHED)
    )
    return int(getattr(result, "rowcount", 0) or 0)
