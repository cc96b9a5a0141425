from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from service.domain.keys.schemas import KeyCreated
from service.domain.validation import PRINTABLE_PATTERN, SLUG_PATTERN

Slug = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=SLUG_PATTERN)]
DisplayName = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=200, pattern=PRINTABLE_PATTERN
    ),
]


class OrganizationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: Slug = Field(description="Public id, unique in the deployment, e.g. 'lincoln-high'.")
    name: DisplayName
    admin_key_name: DisplayName = Field(
        default="first admin", description="Name of the organisation's first admin key."
    )


class OrganizationRead(BaseModel):
    id: str
    name: str
    created_at: datetime


class OrganizationCreated(BaseModel):
    organization: OrganizationRead
    default_course_id: str = Field(description="Questions go here when no course is named.")
    admin_key: KeyCreated = Field(description="The first admin key, shown only now.")


class OrganizationList(BaseModel):
    items: list[OrganizationRead]


class CourseCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: Slug = Field(description="Public id, unique in the organisation, e.g. 'hist-101'.")
    title: DisplayName


class CourseRead(BaseModel):
    id: str
    title: str
    is_default: bool
    created_at: datetime


class CourseList(BaseModel):
    items: list[CourseRead]


# An origin as a browser sends it: scheme, host and an optional port; nothing else.
ORIGIN_PATTERN = r"^https?://[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?$"


class EmbeddingRead(BaseModel):
    origins: list[str] = Field(
        description="Origins whose pages may show this organisation's student feedback pages "
        "in an iframe (CSP frame-ancestors). Empty: no site may."
    )


class EmbeddingUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    origins: Annotated[
        list[Annotated[str, StringConstraints(max_length=300, pattern=ORIGIN_PATTERN)]],
        Field(
            max_length=20,
            description="e.g. https://moodle.example.edu; https only, except "
            "for localhost and 127.0.0.1.",
        ),
    ]
