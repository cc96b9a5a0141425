from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, AnyHttpUrl, BaseModel, ConfigDict, Field, StringConstraints

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


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: KeyName = Field(description="What the key is for, e.g. 'Moodle production'.")
    role: CreatableRole
    course_ids: Annotated[list[CourseSlug], Field(max_length=100)] = Field(
        default_factory=list,
        description="Instructor keys only: the courses (ids) the key is granted.",
    )


class KeyRead(BaseModel):
    id: uuid.UUID
    name: str
    role: Role
    organization_id: str = Field(description="The organisation the key belongs to.")
    is_operator: bool = Field(description="Also holds the deployment's operator capability.")
    course_ids: list[str] = Field(description="Courses granted to an instructor key.")
    prefix: str = Field(description="First characters of the key, to tell keys apart.")
    created_at: datetime
    revoked_at: datetime | None


class KeyCreated(KeyRead):
    key: str = Field(description="The key itself. Shown only in this response; store it now.")


class KeyList(BaseModel):
    items: list[KeyRead]


def _valid_secret(value: str) -> str:
    signing_key(value)  # a whsec_ secret must be strict base64 of 24-64 bytes
    return value


CallbackSecret = Annotated[
    str,
    StringConstraints(min_length=16, max_length=256, pattern=PRINTABLE_PATTERN),
    AfterValidator(_valid_secret),
]


class CallbackSet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: AnyHttpUrl = Field(description="Where scored, rescored and overridden results are POSTed.")
    secret: CallbackSecret | None = Field(
        default=None,
        description="Standard Webhooks signing secret, `whsec_` + base64 of 24-64 random bytes; "
        "omit it to have one generated. Any other text of 16+ characters is accepted as the "
        "key's UTF-8 bytes.",
    )


class CallbackRead(BaseModel):
    url: str | None
    configured: bool


class CallbackCreated(CallbackRead):
    secret: str = Field(
        description="The signing secret in Standard Webhooks form (`whsec_...`). Shown only in "
        "this response: give it to your Standard Webhooks library."
    )
