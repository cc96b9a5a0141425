from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, StringConstraints

from service.domain.validation import PRINTABLE_PATTERN

Role = Literal["admin", "instructor", "integration"]
KeyName = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=100, pattern=PRINTABLE_PATTERN
    ),
]


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: KeyName = Field(description="What the key is for, e.g. 'Moodle production'.")
    role: Role


class KeyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    role: Role
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
