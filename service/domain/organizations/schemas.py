from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, JsonValue, StringConstraints

from service.domain.keys.schemas import KeyCreated
from service.domain.validation import PRINTABLE_PATTERN, SLUG_PATTERN

Slug = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=SLUG_PATTERN)]
DisplayName = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=200, pattern=PRINTABLE_PATTERN
    ),
]


# The API reference's example (responses as the service gave them in a test run);
# tests/api/test_openapi_docs.py checks it against the schema.
_ORGANIZATION_CREATE_EXAMPLES: list[JsonValue] = [
    {"id": "riverside-high", "name": "Riverside High School"}
]


class OrganizationCreate(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": _ORGANIZATION_CREATE_EXAMPLES}, extra="forbid"
    )

    id: Slug = Field(description="Public id, unique in the deployment, e.g. 'lincoln-high'.")
    name: DisplayName
    admin_key_name: DisplayName = Field(
        default="first admin", description="Name of the organisation's first admin key."
    )


class OrganizationRead(BaseModel):
    id: str
    name: str
    created_at: datetime


# The API reference's example (responses as the service gave them in a test run);
# tests/api/test_openapi_docs.py checks it against the schema.
_ORGANIZATION_CREATED_EXAMPLES: list[JsonValue] = [
    {
        "organization": {
            "id": "riverside-high",
            "name": "Riverside High School",
            "created_at": "2026-12-02T15:08:36.881843Z",
        },
        "default_course_id": "default",
        "admin_key": {
            "id": "63e5cf01-1a1d-475a-a649-03d780bf32e2",
            "name": "first admin",
            "role": "admin",
            "organization_id": "riverside-high",
            "is_operator": False,
            "course_ids": [],
            "prefix": "grk_PbuOTQ5a",
            "created_at": "2026-12-02T15:08:36.882469Z",
            "revoked_at": None,
            "key": "grk_PbuOTQ5axxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        },
    }
]


class OrganizationCreated(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": _ORGANIZATION_CREATED_EXAMPLES})

    organization: OrganizationRead
    default_course_id: str = Field(description="Questions go here when no course is named.")
    admin_key: KeyCreated = Field(description="The first admin key, shown only now.")


# The API reference's example (responses as the service gave them in a test run);
# tests/api/test_openapi_docs.py checks it against the schema.
_ORGANIZATION_LIST_EXAMPLES: list[JsonValue] = [
    {
        "items": [
            {
                "id": "default",
                "name": "Default organisation",
                "created_at": "2026-12-02T15:08:36.381407Z",
            },
            {
                "id": "riverside-high",
                "name": "Riverside High School",
                "created_at": "2026-12-02T15:08:36.881843Z",
            },
        ]
    }
]


class OrganizationList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": _ORGANIZATION_LIST_EXAMPLES})

    items: list[OrganizationRead]


# The API reference's example (responses as the service gave them in a test run);
# tests/api/test_openapi_docs.py checks it against the schema.
_COURSE_CREATE_EXAMPLES: list[JsonValue] = [{"id": "biology-10", "title": "Biology, year 10"}]


class CourseCreate(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": _COURSE_CREATE_EXAMPLES}, extra="forbid"
    )

    id: Slug = Field(description="Public id, unique in the organisation, e.g. 'hist-101'.")
    title: DisplayName


# The API reference's example (responses as the service gave them in a test run);
# tests/api/test_openapi_docs.py checks it against the schema.
_COURSE_READ_EXAMPLES: list[JsonValue] = [
    {
        "id": "biology-10",
        "title": "Biology, year 10",
        "is_default": False,
        "created_at": "2026-12-02T15:08:36.903966Z",
    }
]


class CourseRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": _COURSE_READ_EXAMPLES})

    id: str
    title: str
    is_default: bool
    created_at: datetime


# The API reference's example (responses as the service gave them in a test run);
# tests/api/test_openapi_docs.py checks it against the schema.
_COURSE_LIST_EXAMPLES: list[JsonValue] = [
    {
        "items": [
            {
                "id": "biology-10",
                "title": "Biology, year 10",
                "is_default": False,
                "created_at": "2026-12-02T15:08:36.903966Z",
            },
            {
                "id": "default",
                "title": "Default course",
                "is_default": True,
                "created_at": "2026-12-02T15:08:36.383566Z",
            },
        ]
    }
]


class CourseList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": _COURSE_LIST_EXAMPLES})

    items: list[CourseRead]


# An origin as a browser sends it: scheme, host and an optional port; nothing else.
ORIGIN_PATTERN = r"^https?://[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?$"


# The API reference's example (responses as the service gave them in a test run);
# tests/api/test_openapi_docs.py checks it against the schema.
_EMBEDDING_READ_EXAMPLES: list[JsonValue] = [{"origins": ["https://moodle.riverside.example"]}]


class EmbeddingRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": _EMBEDDING_READ_EXAMPLES})

    origins: list[str] = Field(
        description="Origins whose pages may show this organisation's student feedback pages "
        "in an iframe (CSP frame-ancestors). Empty: no site may."
    )


# The API reference's example (responses as the service gave them in a test run);
# tests/api/test_openapi_docs.py checks it against the schema.
_EMBEDDING_UPDATE_EXAMPLES: list[JsonValue] = [{"origins": ["https://moodle.riverside.example"]}]


class EmbeddingUpdate(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": _EMBEDDING_UPDATE_EXAMPLES}, extra="forbid"
    )

    origins: Annotated[
        list[Annotated[str, StringConstraints(max_length=300, pattern=ORIGIN_PATTERN)]],
        Field(
            max_length=20,
            description="e.g. https://moodle.example.edu; https only, except "
            "for localhost and 127.0.0.1.",
        ),
    ]
