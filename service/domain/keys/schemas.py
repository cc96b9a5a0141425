from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    StringConstraints,
)

from service.domain.callbacks.signing import signing_key
from service.domain.validation import PRINTABLE_PATTERN, SLUG_PATTERN

CourseSlug = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=SLUG_PATTERN)]

Role = Literal["operator", "admin", "instructor", "integration"]
# What an organisation's admin may create (operator keys are the deployment's).
CreatableRole = Literal["admin", "instructor", "integration"]
KeyName = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=100, pattern=PRINTABLE_PATTERN
    ),
]


# The API reference's example (responses as the service gave them in a test run);
# tests/api/test_openapi_docs.py checks it against the schema.
_KEY_CREATE_EXAMPLES: list[JsonValue] = [
    {"name": "Moodle", "role": "integration"},
    {"name": "Ms Rivera", "role": "instructor", "course_ids": ["biology-10"]},
]


class KeyCreate(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": _KEY_CREATE_EXAMPLES}, extra="forbid")

    name: KeyName = Field(description="What the key is for, e.g. 'Moodle production'.")
    role: CreatableRole
    course_ids: Annotated[list[CourseSlug], Field(max_length=100)] = Field(
        default_factory=list,
        description="Instructor keys only: the courses (ids) the key is granted.",
    )


# The API reference's example (responses as the service gave them in a test run);
# tests/api/test_openapi_docs.py checks it against the schema.
_KEY_READ_EXAMPLES: list[JsonValue] = [
    {
        "id": "512f6fd6-c05b-4598-9346-3b15cb593264",
        "name": "Old LMS key",
        "role": "integration",
        "organization_id": "default",
        "is_operator": False,
        "course_ids": [],
        "prefix": "grk_bwnEUepv",
        "created_at": "2026-12-02T15:08:37.092268Z",
        "revoked_at": "2026-12-02T15:08:37.101916Z",
    }
]


class KeyRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": _KEY_READ_EXAMPLES})

    id: uuid.UUID
    name: str
    role: Role
    organization_id: str = Field(description="The organisation the key belongs to.")
    is_operator: bool = Field(description="Also holds the deployment's operator capability.")
    course_ids: list[str] = Field(description="Courses granted to an instructor key.")
    prefix: str = Field(description="First characters of the key, to tell keys apart.")
    created_at: datetime
    revoked_at: datetime | None


# The API reference's example (responses as the service gave them in a test run);
# tests/api/test_openapi_docs.py checks it against the schema.
_KEY_CREATED_EXAMPLES: list[JsonValue] = [
    {
        "id": "933edd0b-be6b-4f8b-a5f3-f6c3a311f545",
        "name": "Moodle",
        "role": "integration",
        "organization_id": "default",
        "is_operator": False,
        "course_ids": [],
        "prefix": "grk_JJRzbfK9",
        "created_at": "2026-12-02T15:08:36.998802Z",
        "revoked_at": None,
        "key": "grk_JJRzbfK9xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    }
]


class KeyCreated(KeyRead):
    model_config = ConfigDict(json_schema_extra={"examples": _KEY_CREATED_EXAMPLES})

    key: str = Field(description="The key itself. Shown only in this response; store it now.")


# The API reference's example (responses as the service gave them in a test run);
# tests/api/test_openapi_docs.py checks it against the schema.
_KEY_LIST_EXAMPLES: list[JsonValue] = [
    {
        "items": [
            {
                "id": "deca4709-2dfe-4ef9-ab96-5ef630cd259d",
                "name": "bootstrap admin",
                "role": "admin",
                "organization_id": "default",
                "is_operator": True,
                "course_ids": [],
                "prefix": "grk_Q7vN2mLp",
                "created_at": "2026-12-02T15:08:36.462460Z",
                "revoked_at": None,
            },
            {
                "id": "933edd0b-be6b-4f8b-a5f3-f6c3a311f545",
                "name": "Moodle",
                "role": "integration",
                "organization_id": "default",
                "is_operator": False,
                "course_ids": [],
                "prefix": "grk_JJRzbfK9",
                "created_at": "2026-12-02T15:08:36.998802Z",
                "revoked_at": None,
            },
            {
                "id": "ff18a22e-a8fb-4049-8fd0-ab1a91e033f2",
                "name": "Ms Rivera",
                "role": "instructor",
                "organization_id": "default",
                "is_operator": False,
                "course_ids": ["biology-10", "default"],
                "prefix": "grk_HpB7pzXN",
                "created_at": "2026-12-02T15:08:37.051666Z",
                "revoked_at": None,
            },
        ]
    }
]


class KeyList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": _KEY_LIST_EXAMPLES})

    items: list[KeyRead]


def _valid_secret(value: str) -> str:
    signing_key(value)  # a whsec_ secret must be strict base64 of 24-64 bytes
    return value


CallbackSecret = Annotated[
    str,
    StringConstraints(min_length=16, max_length=256, pattern=PRINTABLE_PATTERN),
    AfterValidator(_valid_secret),
]


# The API reference's example (responses as the service gave them in a test run);
# tests/api/test_openapi_docs.py checks it against the schema.
_CALLBACK_SET_EXAMPLES: list[JsonValue] = [
    {"url": "https://moodle.riverside.example/grader-callback"}
]


class CallbackSet(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": _CALLBACK_SET_EXAMPLES}, extra="forbid"
    )

    url: AnyHttpUrl = Field(description="Where scored, rescored and overridden results are POSTed.")
    secret: CallbackSecret | None = Field(
        default=None,
        description="Standard Webhooks signing secret, `whsec_` + base64 of 24-64 random bytes; "
        "omit it to have one generated. Any other text of 16+ characters is accepted as the "
        "key's UTF-8 bytes.",
    )


# The API reference's example (responses as the service gave them in a test run);
# tests/api/test_openapi_docs.py checks it against the schema.
_CALLBACK_READ_EXAMPLES: list[JsonValue] = [
    {"url": "https://moodle.riverside.example/grader-callback", "configured": True},
    {"url": None, "configured": False},
]


class CallbackRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": _CALLBACK_READ_EXAMPLES})

    url: str | None
    configured: bool


# The API reference's example (responses as the service gave them in a test run);
# tests/api/test_openapi_docs.py checks it against the schema.
_CALLBACK_CREATED_EXAMPLES: list[JsonValue] = [
    {
        "url": "https://moodle.riverside.example/grader-callback",
        "configured": True,
        "secret": "whsec_MfKQ9r8GKYqHd0l9e2FX4bDp3x7oQk1S",
    }
]


class CallbackCreated(CallbackRead):
    model_config = ConfigDict(json_schema_extra={"examples": _CALLBACK_CREATED_EXAMPLES})

    secret: str = Field(
        description="The signing secret in Standard Webhooks form (`whsec_...`). Shown only in "
        "this response: give it to your Standard Webhooks library."
    )
