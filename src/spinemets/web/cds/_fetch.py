"""Outbound FHIR reads of the CDS service: allow-listed, bounded, never silent.

The EHR names its FHIR server (``fhirServer``) and hands over an access token; both are
attacker-controlled input for a server that fetches. So:

- ``fhirServer`` must equal a base URL allow-listed for the token's issuer (scheme, host, port
  and path), and every URL fetched (paging links too) must lie under it;
- redirects are never followed (a 3xx is a fetch failure), so nothing leaves that host;
- ``patientId`` must be a FHIR id (``[A-Za-z0-9-.]{1,64}``): no path traversal or query;
- one time budget for every request of a hook (default 2 s), a byte limit per answer (read in
  chunks, stopped at the limit) and a page limit for ``link[next]``;
- an answer that is not JSON, an OperationOutcome, an HTTP error or a timeout is a
  :class:`FetchError` saying which data could not be fetched: the caller tells the clinician,
  never "nothing to flag".
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

__all__ = ["FHIR_ID", "MAX_RESOURCES", "FetchError", "FetchLimits", "Fetcher", "allowed_base",
           "outcome_errors"]

#: A FHIR ``id`` (R4 datatype ``id``).
FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


#: Resources read for one hook in all (prefetch and fetched pages): bounds the work per call.
MAX_RESOURCES = 10_000


class FetchError(Exception):
    """Data the hook needs could not be fetched; the message says which and why (no secrets)."""


@dataclass(frozen=True, slots=True)
class FetchLimits:
    """Budget (seconds, all requests of one hook), bytes per answer, pages per search."""

    budget_s: float = 2.0
    max_bytes: int = 10_000_000
    max_pages: int = 10


def _normal(url: str) -> tuple[str, str, int | None, str] | None:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in {"http", "https"} or not parts.hostname or parts.username or (
            parts.password) or parts.query or parts.fragment:
        return None
    default = 443 if parts.scheme == "https" else 80
    return parts.scheme, parts.hostname.lower(), port or default, parts.path.rstrip("/")


def allowed_base(server: str, allowed: list[str]) -> str | None:
    """The allow-listed base ``server`` matches exactly (normalised), or None."""
    wanted = _normal(server)
    if wanted is None or ".." in wanted[3].split("/"):
        return None
    for base in allowed:
        if _normal(base) == wanted:
            return server.rstrip("/")
    return None


def _under(url: str, base: str) -> bool:
    got, root = _normal(url.split("?", 1)[0]), _normal(base)
    if got is None or root is None or got[:3] != root[:3]:
        return False
    path = got[3]
    return (path == root[3] or path.startswith(root[3] + "/")) and ".." not in path.split("/")


def outcome_errors(resource: Mapping[str, Any]) -> list[str]:
    """The error and fatal issues of an OperationOutcome, as text."""
    out = []
    for issue in resource.get("issue") or ():
        if isinstance(issue, Mapping) and issue.get("severity") in {"error", "fatal"}:
            text = issue.get("diagnostics") or (issue.get("details") or {}).get("text") or (
                issue.get("code") or "error")
            out.append(str(text)[:200])
    return out


@dataclass
class Fetcher:
    """Reads under one allow-listed base within one time budget."""

    base: str
    token: str | None
    limits: FetchLimits
    started: float = field(default_factory=time.monotonic)
    client: httpx.Client | None = None

    def remaining(self) -> float:
        return self.limits.budget_s - (time.monotonic() - self.started)

    def _client(self) -> httpx.Client:
        if self.client is None:
            self.client = httpx.Client(follow_redirects=False, trust_env=False)
        return self.client

    def close(self) -> None:
        if self.client is not None:
            self.client.close()

    def _chunks(self, response: httpx.Response, what: str) -> Iterator[bytes]:
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > self.limits.max_bytes:
                raise FetchError(f"{what}: the FHIR server's answer is larger than "
                                 f"{self.limits.max_bytes} bytes")
            if self.remaining() <= 0:
                raise FetchError(f"{what}: the FHIR server did not answer within "
                                 f"{self.limits.budget_s:g} s")
            yield chunk

    def get(self, url: str, what: str) -> dict[str, Any]:
        """The JSON object at ``url`` (under the base); :class:`FetchError` otherwise."""
        if not _under(url, self.base):
            raise FetchError(f"{what}: {url[:200]!r} is not under the allow-listed FHIR server")
        remaining = self.remaining()
        if remaining <= 0:
            raise FetchError(f"{what}: the fetch budget of {self.limits.budget_s:g} s is spent")
        headers = {"Accept": "application/fhir+json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        try:
            with self._client().stream("GET", url, headers=headers,
                                       timeout=httpx.Timeout(remaining)) as response:
                status = response.status_code
                body = b"" if status >= 300 else b"".join(self._chunks(response, what))
        except httpx.TimeoutException as exc:
            raise FetchError(f"{what}: the FHIR server did not answer within "
                             f"{self.limits.budget_s:g} s") from exc
        except httpx.HTTPError as exc:
            raise FetchError(f"{what}: the FHIR server could not be reached") from exc
        if 300 <= status < 400:
            raise FetchError(f"{what}: the FHIR server answered a redirect ({status}), "
                             "which is not followed")
        if status != 200:
            kind = " (access refused)" if status in {401, 403} else ""
            raise FetchError(f"{what}: the FHIR server answered {status}{kind}")
        try:
            data = json.loads(body)
        except (ValueError, RecursionError) as exc:
            raise FetchError(f"{what}: the FHIR server's answer is not JSON") from exc
        if not isinstance(data, dict):
            raise FetchError(f"{what}: the FHIR server's answer is not a FHIR resource")
        return data

    def next_url(self, bundle: Mapping[str, Any]) -> str | None:
        for link in bundle.get("link") or ():
            if isinstance(link, Mapping) and link.get("relation") == "next" and isinstance(
                    link.get("url"), str):
                return str(link["url"])
        return None
