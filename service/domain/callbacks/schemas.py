from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, model_validator

OutcomeName = Literal["delivered", "http_status", "refused", "timed_out", "connection_failed"]


class AttemptRead(BaseModel):
    """One attempt in coarse words: never error text or addresses (they map our network)."""

    at: datetime
    outcome: OutcomeName = Field(
        description="delivered (2xx), http_status (another status), refused (destination not "
        "allowed), timed_out, connection_failed."
    )
    status_code: int | None = Field(description="The receiver's HTTP status, when it answered.")

    @model_validator(mode="before")
    @classmethod
    def _from_older_rows(cls, data: Any) -> Any:
        """Attempts stored before outcomes existed carry an ``error`` text: map, never show."""
        if isinstance(data, dict) and "outcome" not in data:
            code = data.get("status_code")
            if data.get("error") is None:
                outcome = "delivered"
            else:
                outcome = "http_status" if code is not None else "connection_failed"
            return {"at": data.get("at"), "outcome": outcome, "status_code": code}
        return data


class DeliveryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID = Field(description="Also the webhook-id header: the same on every retry.")
    submission_id: uuid.UUID
    event: str
    url: str
    status: Literal["pending", "delivered", "failed", "cancelled"]
    attempts: int
    attempt_log: list[AttemptRead]
    next_attempt_at: datetime
    created_at: datetime
    delivered_at: datetime | None


# The API reference's example (responses as the service gave them in a test run);
# tests/api/test_openapi_docs.py checks it against the schema.
_DELIVERY_LIST_EXAMPLES: list[JsonValue] = [
    {
        "items": [
            {
                "id": "0b9e6c1e-5f0c-4a59-9d43-6f1e2a7c8d10",
                "submission_id": "807168fa-372a-44af-b1fb-402838885c49",
                "event": "submission.scored",
                "url": "https://moodle.riverside.example/grader-callback",
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


class DeliveryList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": _DELIVERY_LIST_EXAMPLES})

    items: list[DeliveryRead]
