"""The LTI administration API's bodies (``/v1/lti/...``), separate from the ORM rows."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator

from service.domain.callbacks.schemas import DeliveryRead

Text255 = Annotated[str, Field(min_length=1, max_length=255)]
Url = Annotated[HttpUrl, Field(max_length=2048)]


class PlatformCreate(BaseModel):
    """The values an LMS shows its administrator when a tool is added by hand."""

    model_config = ConfigDict(extra="forbid")

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


class DeploymentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    deployment_id: Text255


class PlatformRead(BaseModel):
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


class PlatformList(BaseModel):
    items: list[PlatformRead]


class ToolConfiguration(BaseModel):
    """What an LMS administrator pastes into the LMS when adding the tool by hand."""

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


class InviteRead(BaseModel):
    url: str = Field(description="Paste into the LMS's dynamic registration field; used once.")
    expires_at: datetime


class KeyRead(BaseModel):
    kid: str
    created_at: datetime


class ScoreDeliveryList(BaseModel):
    items: list[DeliveryRead]


class AttemptsUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_attempts: Annotated[int, Field(ge=1, le=100)] = 1
    attempt_policy: Literal["last", "highest"] = "last"


class AttemptsRead(BaseModel):
    question_id: str
    max_attempts: int
    attempt_policy: Literal["last", "highest"]
