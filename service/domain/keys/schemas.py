from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, StringConstraints

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


class CallbackSet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: AnyHttpUrl = Field(description="Where scored, rescored and overridden results are POSTed.")
    secret: Annotated[
        str, StringConstraints(min_length=16, max_length=256, pattern=PRINTABLE_PATTERN)
    ] = Field(
        description="Shared secret for the X-Grader-Signature HMAC-SHA256 header (16+ characters)."
    )


class CallbackRead(BaseModel):
    url: str | None
    configured: bool
