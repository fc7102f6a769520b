# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The HTTP session every connector talks to its aggregator with."""
from __future__ import annotations

import datetime as dt
import email.utils

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

RETRY_STATUSES = (500, 502, 503, 504)


class _BoundedRetry(Retry):
    """urllib3's Retry, minus 429 and 413: with ``respect_retry_after_header``
    it would retry them when they carry Retry-After, and a refused quota asked
    again is only refused again. A 503's Retry-After is obeyed up to
    ``max_retry_after`` seconds: a synchronization must not hang."""

    RETRY_AFTER_STATUS_CODES = frozenset({503})

    def __init__(self, *args, max_retry_after: float = 30.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.max_retry_after = max_retry_after

    def new(self, **kwargs):
        # urllib3 makes a new Retry at each attempt: keep the bound.
        retry = super().new(**kwargs)
        retry.max_retry_after = self.max_retry_after
        return retry

    def get_retry_after(self, response):
        seconds = super().get_retry_after(response)
        return None if seconds is None else min(seconds, self.max_retry_after)


def retrying_session(
    attempts: int, backoff: float, max_retry_after: float, methods: frozenset = frozenset({"GET"})
) -> requests.Session:
    """A session that retries ``methods`` (GET: the idempotent calls) on
    connection errors and 5xx, with ``backoff`` seconds doubled at each
    attempt; never a 4xx, never a read timeout (the call may have been served
    and spent a quota; the wait would multiply). An API whose reads are POSTs
    passes ``methods`` with POST and mounts :func:`non_retrying_adapter` on
    the URLs of its calls that change something."""
    retry = _BoundedRetry(
        # read=False: a read timeout is raised as one (requests.Timeout), not retried.
        total=attempts, connect=attempts, status=attempts, read=False, other=0,
        backoff_factor=backoff, status_forcelist=RETRY_STATUSES,
        allowed_methods=frozenset(methods), respect_retry_after_header=True, raise_on_status=False,
        max_retry_after=max_retry_after,
    )
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def non_retrying_adapter() -> HTTPAdapter:
    """For calls that must never be sent twice: ``session.mount(url, ...)``
    (requests picks the adapter of the longest matching prefix)."""
    return HTTPAdapter(max_retries=Retry(total=0, read=False, raise_on_status=False))


def retry_after(response: requests.Response, now: dt.datetime) -> dt.datetime | None:
    """When the aggregator says to come back (``Retry-After``: seconds or an
    HTTP date), as an aware UTC datetime; None when it does not say."""
    value = (response.headers.get("Retry-After") or "").strip()
    if value.isdigit():
        return now + dt.timedelta(seconds=int(value))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return (when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)).astimezone(dt.timezone.utc)


def with_query(url: str, **params) -> str:
    """``url`` with ``params`` added to its query string (a redirect address
    that must carry the consent's state back)."""
    parts = urlsplit(url)
    query = urlencode([*parse_qsl(parts.query, keep_blank_values=True), *params.items()])
    return urlunsplit(parts._replace(query=query))
