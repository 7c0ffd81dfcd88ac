"""Microsoft Graph, at the network edge: a token for the app registration (MSAL, client
credentials) and the three calls that keep a visit's event in a mailbox.

The event says what the team's calendar feeds say (visits.ics.event_text, at the team's
feed_detail): who is visited and where, start and finish, the staff going, their contact number,
the plan afterwards and a link to the visit page; never the purpose, a concern or a child's
details.

A cancelled visit's event is deleted (DELETE /users/{id}/events/{id}), not cancelled: Graph's
`cancel` action is only for the organiser of a meeting with attendees (anyone else gets a 400),
and these events have no attendees. Deleting also takes the visit out of the calendar, which is
what the guidance asks ("ensure the diary is adjusted"); a cancelled event left in place would
still block the time. A 404 to a delete means the event has already gone, which is success.

Errors say what to do next: `GraphError.retry_after` is set when Graph asked for a pause (429
or 503 with Retry-After); `final` when trying again cannot help (the mailbox does not exist, the
app has no permission); otherwise the outbox retries with its backoff.
"""

import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote

import msal
import requests
from django.conf import settings

from .ics import EventText, calendar_time

SCOPES = ["https://graph.microsoft.com/.default"]
RETRY_AFTER_STATUSES = {429, 503}


class GraphError(Exception):
    def __init__(self, message: str, *, final: bool = False, retry_after: float | None = None):
        super().__init__(message[:300])
        self.final = final
        self.retry_after = retry_after


class EventGone(GraphError):
    """The event is not in the mailbox any more (someone deleted it in Outlook)."""


class _Session(requests.Session):
    """requests lets REQUESTS_CA_BUNDLE in the environment override a session's own `verify`;
    passing it with each request keeps GRAPH_CA_BUNDLE in force (for MSAL's calls too)."""

    def request(self, method, url, **kwargs):
        kwargs.setdefault("verify", self.verify)
        kwargs.setdefault("timeout", settings.GRAPH_TIMEOUT_SECONDS)
        return super().request(method, url, **kwargs)


@dataclass
class _Client:
    app: msal.ConfidentialClientApplication
    session: requests.Session


_clients: dict[tuple, _Client] = {}
_clients_lock = threading.Lock()


def _client() -> _Client:
    """One MSAL app (which keeps the token until it expires) and one HTTP session per process
    and configuration."""
    authority = f"{settings.GRAPH_LOGIN_BASE_URL}/{settings.GRAPH_TENANT_ID}"
    verify = settings.GRAPH_CA_BUNDLE or True
    key = (authority, settings.GRAPH_CLIENT_ID, settings.GRAPH_CLIENT_SECRET, verify)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            session = _Session()
            session.verify = verify
            try:
                app = msal.ConfidentialClientApplication(
                    settings.GRAPH_CLIENT_ID,
                    client_credential=settings.GRAPH_CLIENT_SECRET,
                    authority=authority,
                    # Known Microsoft hosts skip it anyway; any other (a national cloud's
                    # proxy, the tests' fake) must not be checked against Microsoft's list.
                    instance_discovery=False,
                    http_client=session,
                )
            except Exception as error:  # discovery failed: network, or a wrong tenant
                raise GraphError(f"Could not reach Microsoft sign-in: {error}") from error
            client = _clients[key] = _Client(app, session)
    return client


def _token(*, fresh: bool = False) -> str:
    app = _client().app
    if fresh:
        app.remove_tokens_for_client()
    try:
        result = app.acquire_token_for_client(scopes=SCOPES)
    except Exception as error:  # network errors inside MSAL
        raise GraphError(f"Could not reach Microsoft sign-in: {error}") from error
    if "access_token" not in result:
        description = result.get("error_description") or result.get("error") or "no token"
        raise GraphError(f"Microsoft sign-in refused the app: {description.splitlines()[0]}")
    return result["access_token"]


def _request(method: str, path: str, body: dict | None = None) -> requests.Response:
    """One call, with the cached token; a 401 (the token expired or was revoked early) gets
    a fresh token and one more try."""
    url = f"{settings.GRAPH_BASE_URL}{path}"
    for fresh in (False, True):
        headers = {"Authorization": f"Bearer {_token(fresh=fresh)}"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        try:
            response = _client().session.request(method, url, json=body, headers=headers)
        except requests.RequestException as error:
            raise GraphError(f"Microsoft Graph did not answer: {type(error).__name__}") from error
        if response.status_code != 401:
            return response
    raise GraphError(_said(response, "Microsoft Graph refused the app's token"))


def _said(response: requests.Response, prefix: str) -> str:
    try:
        error = response.json().get("error", {})
        detail = f"{error.get('code', '')}: {error.get('message', '')}".strip(": ")
    except ValueError:
        detail = response.reason or ""
    return f"{prefix} ({response.status_code}{', ' + detail if detail else ''})"


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    return float(value) if value.strip().isdigit() else None


def _raise_for(response: requests.Response, *, what: str) -> None:
    status = response.status_code
    if status < 400:
        return
    message = _said(response, f"Microsoft Graph could not {what}")
    if status in RETRY_AFTER_STATUSES:
        raise GraphError(message, retry_after=_retry_after(response))
    if status >= 500:
        raise GraphError(message)
    if status == 403:
        message += "; check the app has Calendars.ReadWrite with admin consent"
    raise GraphError(message, final=True)


def _user(mailbox: str) -> str:
    return f"/users/{quote(mailbox, safe='@')}"


def _event_path(mailbox: str, event_id: str) -> str:
    return f"{_user(mailbox)}/events/{quote(event_id, safe='')}"


def event_body(text: EventText, *, starts_at: datetime, ends_at: datetime) -> dict:
    """The Graph event: London time as the ICS feed writes it (UTC in the hour that repeats
    when the clocks go back, where a London time would be ambiguous)."""

    def when(moment: datetime) -> dict:
        local = calendar_time(moment)
        return {
            "dateTime": local.replace(tzinfo=None).isoformat(timespec="seconds"),
            "timeZone": "UTC" if local.tzinfo is UTC else "Europe/London",
        }

    return {
        "subject": text.summary,
        "body": {"contentType": "text", "content": text.description},
        "start": when(starts_at),
        "end": when(ends_at),
        "location": {"displayName": text.location},
        "showAs": "busy",
    }


def event_create(*, mailbox: str, body: dict, transaction_id: str) -> str:
    """POST the event; Graph answers a repeated transactionId with the event it made first."""
    response = _request(
        "POST", f"{_user(mailbox)}/events", {**body, "transactionId": transaction_id}
    )
    if response.status_code == 404:
        raise GraphError(_said(response, f"No Outlook mailbox for {mailbox}"), final=True)
    _raise_for(response, what="create the event")
    try:
        return response.json()["id"]
    except (ValueError, KeyError, TypeError) as error:
        raise GraphError("Microsoft Graph answered the create without an event id") from error


def event_update(*, mailbox: str, event_id: str, body: dict) -> None:
    response = _request("PATCH", _event_path(mailbox, event_id), body)
    if response.status_code == 404:
        raise EventGone(_said(response, "The event is no longer in Outlook"))
    _raise_for(response, what="update the event")


def event_delete(*, mailbox: str, event_id: str) -> None:
    response = _request("DELETE", _event_path(mailbox, event_id))
    if response.status_code == 404:
        return  # already gone
    _raise_for(response, what="delete the event")
