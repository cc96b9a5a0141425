from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

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


class DeliveryList(BaseModel):
    items: list[DeliveryRead]
