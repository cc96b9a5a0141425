"""The LTI administration API's bodies (``/v1/lti/...``), separate from the ORM rows."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, JsonValue, field_validator

from service.domain.callbacks.schemas import DeliveryRead

Text255 = Annotated[str, Field(min_length=1, max_length=255)]
Url = Annotated[HttpUrl, Field(max_length=2048)]


# The API reference's example (responses as the service gave them in a test run);
# tests/api/test_openapi_docs.py checks it against the schema.
_PLATFORM_CREATE_EXAMPLES: list[JsonValue] = [
    {
        "name": "Riverside Moodle",
        "issuer": "https://moodle.riverside.example",
        "client_id": "Xf3kq8ZpW2",
        "auth_login_url": "https://moodle.riverside.example/mod/lti/auth.php",
        "token_url": "https://moodle.riverside.example/mod/lti/token.php",
        "jwks_url": "https://moodle.riverside.example/mod/lti/certs.php",
        "deployment_ids": ["4"],
    }
]


class PlatformCreate(BaseModel):
    """The values an LMS shows its administrator when a tool is added by hand."""

    model_config = ConfigDict(
        json_schema_extra={"examples": _PLATFORM_CREATE_EXAMPLES}, extra="forbid"
    )

    name: Annotated[str, Field(min_length=1, max_length=200, description="Shown to admins.")]
    issuer: Annotated[Text255, Field(description="The platform's `iss` (its base URL).")]
    client_id: Annotated[Text255, Field(description="The client id the LMS gave this tool.")]
    auth_login_url: Annotated[Url, Field(description="OIDC authorisation endpoint.")]
    token_url: Annotated[Url, Field(description="OAuth 2 token endpoint (for AGS).")]
    jwks_url: Annotated[Url, Field(description="The platform's public key set.")]
    deployment_ids: Annotated[list[Text255], Field(max_length=50)] = []

    @field_validator("issuer")
    @classmethod
    def _issuer_is_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("the issuer is the platform's URL, e.g. https://lms.example.edu")
        return value


# The API reference's example (responses as the service gave them in a test run);
# tests/api/test_openapi_docs.py checks it against the schema.
_DEPLOYMENT_CREATE_EXAMPLES: list[JsonValue] = [{"deployment_id": "7"}]


class DeploymentCreate(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": _DEPLOYMENT_CREATE_EXAMPLES}, extra="forbid"
    )

    deployment_id: Text255


# The API reference's example (responses as the service gave them in a test run);
# tests/api/test_openapi_docs.py checks it against the schema.
_PLATFORM_EXAMPLE: JsonValue = {
    "id": "5d7f3a52-8c1b-4e0f-9a6d-2b4c8e1f7a93",
    "name": "Riverside Moodle",
    "issuer": "https://moodle.riverside.example",
    "client_id": "Xf3kq8ZpW2",
    "auth_login_url": "https://moodle.riverside.example/mod/lti/auth.php",
    "token_url": "https://moodle.riverside.example/mod/lti/token.php",
    "jwks_url": "https://moodle.riverside.example/mod/lti/certs.php",
    "deployment_ids": ["4"],
    "registered_by": "manual",
    "created_at": "2026-12-02T15:08:37.500000Z",
}
_PLATFORM_READ_EXAMPLES: list[JsonValue] = [_PLATFORM_EXAMPLE]


class PlatformRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": _PLATFORM_READ_EXAMPLES})

    id: uuid.UUID
    name: str
    issuer: str
    client_id: str
    auth_login_url: str
    token_url: str
    jwks_url: str
    deployment_ids: list[str]
    registered_by: Literal["manual", "dynamic"]
    created_at: datetime


# The API reference's example (responses as the service gave them in a test run);
# tests/api/test_openapi_docs.py checks it against the schema.
_PLATFORM_LIST_EXAMPLES: list[JsonValue] = [{"items": [_PLATFORM_EXAMPLE]}]


class PlatformList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": _PLATFORM_LIST_EXAMPLES})

    items: list[PlatformRead]


# The API reference's example (responses as the service gave them in a test run);
# tests/api/test_openapi_docs.py checks it against the schema.
_TOOL_CONFIGURATION_EXAMPLES: list[JsonValue] = [
    {
        "tool_name": "Assessment grader",
        "domain": "grader.riverside.example",
        "login_url": "https://grader.riverside.example/lti/login",
        "launch_url": "https://grader.riverside.example/lti/launch",
        "deep_linking_url": "https://grader.riverside.example/lti/launch",
        "jwks_url": "https://grader.riverside.example/.well-known/jwks.json",
        "scopes": [
            "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
            "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
            "https://purl.imsglobal.org/spec/lti-ags/scope/score",
        ],
        "custom_parameters": "",
    }
]


class ToolConfiguration(BaseModel):
    """What an LMS administrator pastes into the LMS when adding the tool by hand."""

    model_config = ConfigDict(json_schema_extra={"examples": _TOOL_CONFIGURATION_EXAMPLES})

    tool_name: str
    domain: str
    login_url: str = Field(description="OIDC login initiation URL (Moodle: Initiate login URL).")
    launch_url: str = Field(description="Redirect URI and target link URI (Tool URL).")
    deep_linking_url: str = Field(description="Content selection URL (deep linking).")
    jwks_url: str = Field(description="The tool's public keyset URL.")
    scopes: list[str]
    custom_parameters: str = Field(
        description="None needed: a placed activity carries question_id itself."
    )


# The API reference's example (responses as the service gave them in a test run);
# tests/api/test_openapi_docs.py checks it against the schema.
_INVITE_READ_EXAMPLES: list[JsonValue] = [
    {
        "url": "https://grader.riverside.example/lti/register?invite=DG1qjY846c_wjN3C0CVsGnANaXzJilh-8fgUQZ3gZU0",
        "expires_at": "2026-12-05T15:08:37.699571Z",
    }
]


class InviteRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": _INVITE_READ_EXAMPLES})

    url: str = Field(description="Paste into the LMS's dynamic registration field; used once.")
    expires_at: datetime


# The API reference's example (responses as the service gave them in a test run);
# tests/api/test_openapi_docs.py checks it against the schema.
_KEY_READ_EXAMPLES: list[JsonValue] = [
    {"kid": "7c2c225325919a7c7f7d295792f1da77", "created_at": "2026-12-02T15:08:37.748390Z"}
]


class KeyRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": _KEY_READ_EXAMPLES})

    kid: str
    created_at: datetime


# The API reference's example (responses as the service gave them in a test run);
# tests/api/test_openapi_docs.py checks it against the schema.
_SCORE_DELIVERY_LIST_EXAMPLES: list[JsonValue] = [
    {
        "items": [
            {
                "id": "0b9e6c1e-5f0c-4a59-9d43-6f1e2a7c8d10",
                "submission_id": "807168fa-372a-44af-b1fb-402838885c49",
                "event": "lti.score",
                "url": "https://moodle.riverside.example/mod/lti/services.php/2/lineitems/14/lineitem/scores",
                "status": "delivered",
                "attempts": 2,
                "attempt_log": [
                    {
                        "at": "2026-12-02T15:08:37.300000Z",
                        "outcome": "timed_out",
                        "status_code": None,
                    },
                    {
                        "at": "2026-12-02T15:08:39.310000Z",
                        "outcome": "delivered",
                        "status_code": 204,
                    },
                ],
                "next_attempt_at": "2026-12-02T15:08:39.310000Z",
                "created_at": "2026-12-02T15:08:37.290000Z",
                "delivered_at": "2026-12-02T15:08:39.420000Z",
            }
        ]
    }
]


class ScoreDeliveryList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": _SCORE_DELIVERY_LIST_EXAMPLES})

    items: list[DeliveryRead]


# The API reference's example (responses as the service gave them in a test run);
# tests/api/test_openapi_docs.py checks it against the schema.
_ATTEMPTS_UPDATE_EXAMPLES: list[JsonValue] = [{"max_attempts": 3, "attempt_policy": "highest"}]


class AttemptsUpdate(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": _ATTEMPTS_UPDATE_EXAMPLES}, extra="forbid"
    )

    max_attempts: Annotated[int, Field(ge=1, le=100)] = 1
    attempt_policy: Literal["last", "highest"] = "last"


# The API reference's example (responses as the service gave them in a test run);
# tests/api/test_openapi_docs.py checks it against the schema.
_ATTEMPTS_READ_EXAMPLES: list[JsonValue] = [
    {"question_id": "photosynthesis-1", "max_attempts": 3, "attempt_policy": "highest"}
]


class AttemptsRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": _ATTEMPTS_READ_EXAMPLES})

    question_id: str
    max_attempts: int
    attempt_policy: Literal["last", "highest"]
