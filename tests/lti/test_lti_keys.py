"""The tool's signing keys: stored encrypted, or read from a key file; rotation keeps the
old key published for what it signed."""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine, select

from service.config import Settings
from service.db.models import LtiToolKey
from service.main import create_app
from tests.conftest import ADMIN_KEY, auth
from tests.lti.helpers import b64_bytes


def test_a_made_key_is_stored_encrypted_with_the_passphrase(
    settings: Settings, clean_engine: Engine
) -> None:
    passphrase = "a passphrase of the school's IT"
    app = create_app(settings.model_copy(update={"lti_key_passphrase": SecretStr(passphrase)}))
    with TestClient(app, headers=auth(ADMIN_KEY)) as client:
        [published] = client.get("/.well-known/jwks.json").json()["keys"]
    assert (published["kty"], published["alg"], published["use"]) == ("RSA", "RS256", "sig")
    assert "d" not in published  # the public half only
    with clean_engine.connect() as connection:
        [row] = connection.execute(select(LtiToolKey.kid, LtiToolKey.private_pem)).all()
    assert row.kid == published["kid"]
    assert row.private_pem.startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----")
    key = serialization.load_pem_private_key(row.private_pem.encode(), passphrase.encode())
    assert isinstance(key, rsa.RSAPrivateKey)
    assert key.key_size >= 2048


def test_a_key_file_is_the_one_key_and_cannot_be_rotated_by_the_api(
    settings: Settings, tmp_path: Path
) -> None:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path / "lti.pem"
    path.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    app = create_app(settings.model_copy(update={"lti_key_file": path}))
    with TestClient(app, headers=auth(ADMIN_KEY)) as client:
        [published] = client.get("/.well-known/jwks.json").json()["keys"]
        numbers = private.public_key().public_numbers()
        n = int.from_bytes(b64_bytes(published["n"]), "big")
        assert n == numbers.n
        rotated = client.post("/v1/lti/keys/rotate")
    assert rotated.status_code == 422
    assert "GRADER_LTI_KEY_FILE" in rotated.json()["detail"]


def test_a_rotated_key_stays_published_until_its_grace_ends(client: TestClient) -> None:
    first = client.get("/.well-known/jwks.json").json()["keys"]
    rotated = client.post("/v1/lti/keys/rotate")
    assert rotated.status_code == 201
    second = client.get("/.well-known/jwks.json").json()["keys"]
    # Newest first: platforms take the first key they do not know.
    assert [k["kid"] for k in second] == [rotated.json()["kid"], first[0]["kid"]]
