from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from service.api.deps import Integration, SessionDep, SettingsDep
from service.api.routers.common import AUTH_ERRORS, problems
from service.domain.callbacks import service as callback_service
from service.domain.callbacks.destinations import DestinationPolicy
from service.domain.callbacks.schemas import DeliveryList, DeliveryRead
from service.domain.keys import service as key_service
from service.domain.keys.schemas import CallbackCreated, CallbackRead, CallbackSet

router = APIRouter(prefix="/v1/callback", tags=["callbacks"], responses=AUTH_ERRORS)


@router.put(
    "",
    response_model=CallbackCreated,
    summary="Set this integration's callback URL and signing secret",
    openapi_extra=problems("callback_refused"),
)
def set_callback(
    body: CallbackSet, session: SessionDep, principal: Integration, settings: SettingsDep
) -> CallbackCreated:
    """Sets this integration key's callback URL and signing secret: every scored submission is
    then POSTed there, signed.

    Who: integration key (or admin, for its own key). Replaces an earlier URL; the secret
    (generated when none is sent) is shown in this response only. 422 `callback_refused` when
    the URL may not receive callbacks (it resolves to a private, loopback, link-local ...
    address, uses http, or holds a password).
    """
    destinations = DestinationPolicy.configure(
        allow_http=settings.callback_allow_http, allowed=settings.callback_allowed_hosts
    )
    key = key_service.own_key(session, principal)
    secret = key_service.set_callback(
        session, key, url=str(body.url), secret=body.secret, destinations=destinations
    )
    return CallbackCreated(url=key.callback_url, configured=True, secret=secret)


@router.get("", response_model=CallbackRead, summary="This integration's callback URL")
def get_callback(session: SessionDep, principal: Integration) -> CallbackRead:
    """Returns this integration key's callback URL (never its secret); changes nothing.

    Who: integration key (or admin, for its own key).
    """
    key = key_service.own_key(session, principal)
    return CallbackRead(url=key.callback_url, configured=key.callback_url is not None)


@router.delete("", response_model=CallbackRead, summary="Stop callbacks")
def delete_callback(session: SessionDep, principal: Integration) -> CallbackRead:
    """Stops callbacks for this integration key: clears its URL and secret.

    Who: integration key (or admin, for its own key). Deliveries already queued are not sent.
    """
    key_service.clear_callback(session, key_service.own_key(session, principal))
    return CallbackRead(url=None, configured=False)


@router.get(
    "/deliveries", response_model=DeliveryList, summary="Recent deliveries and their attempts"
)
def list_deliveries(
    session: SessionDep,
    principal: Integration,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> DeliveryList:
    """Lists this key's recent callback deliveries, newest first, with each attempt's status;
    changes nothing.

    Who: integration key (or admin, for its own key).
    """
    owner = key_service.own_key(session, principal)
    deliveries = callback_service.list_deliveries(session, owner, limit=limit)
    return DeliveryList(items=[DeliveryRead.model_validate(d) for d in deliveries])
