"""The civis-python client as the migration uses it, and its failures as one-line errors.

`civis` is imported here only, inside functions: the CLI plugin module must stay importable
(and `assetgraph list` fast) without it.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from contextlib import contextmanager
from typing import Any, Iterator, Mapping

from assetgraph.ext.civis._layout import ObjectKind
from assetgraph.ext.civis.errors import CivisApiError, CivisConfigError, CivisMigrationError

__all__ = ["CivisSession", "connect"]

DEFAULT_ENDPOINT = "https://api.civisanalytics.com/"
PAGE_SIZE = 50  # the API's maximum `limit`
MAX_ATTEMPTS = 6  # per request, for 429/502/503/504 (civis-python decides which are retried)
MAX_RETRY_SECONDS = 120.0  # never sleep past this, whatever Retry-After says
SPEC_TIMEOUT = (10, 60)  # connect, read seconds for GET /endpoints


class CivisSession:
    """An `APIClient` (raw responses: exactly the API's JSON) plus the endpoint it talks to."""

    def __init__(self, client: Any, endpoint: str) -> None:
        self.client = client
        self.endpoint = endpoint

    def list_ids(self, kind: ObjectKind, *, include_archived: bool) -> list[int]:
        """Ids of every object of this kind, page by page (civis-python's `iterator=True`)."""
        archived = "all" if include_archived else "false"
        with self.errors():
            if kind.script:
                pages = self.client.scripts.list(type=kind.name, archived=archived, limit=PAGE_SIZE, iterator=True)
            else:
                pages = getattr(self.client, kind.name).list(archived=archived, limit=PAGE_SIZE, iterator=True)
            ids = [int(item["id"]) for item in pages]
        return list(dict.fromkeys(ids))

    def get(self, kind: ObjectKind, object_id: int) -> dict[str, Any] | None:
        """The object's JSON exactly as the API returns it; None if it vanished (404)."""
        from civis.base import CivisAPIError

        try:
            with self.errors(passthrough_404=True):
                response = self._resource(kind, "get")(object_id)
                body = response.json()
        except CivisAPIError as exc:
            if exc.status_code == 404:
                return None
            raise  # pragma: no cover - errors() turned every other status into CivisApiError
        except ValueError:
            raise CivisApiError(self.endpoint, f"GET /{kind.folder}/{object_id} did not return JSON") from None
        if not isinstance(body, dict):
            raise CivisApiError(self.endpoint, f"GET /{kind.folder}/{object_id} did not return an object")
        return body

    def unschedule(self, kind: ObjectKind, object_id: int, current: Mapping[str, Any]) -> None:
        """Turn the object's schedule off, keeping its other schedule fields."""
        # civis-python sends parameter names in snake_case, nested ones too (as its docs show)
        schedule = {_snake(k): v for k, v in (current.get("schedule") or {}).items()}
        schedule["scheduled"] = False
        with self.errors():
            if kind.name == "imports":  # imports have PUT only: send the required fields back
                self.client.imports.put(
                    object_id, name=current.get("name"), sync_type=current.get("syncType"),
                    is_outbound=bool(current.get("isOutbound")), schedule=schedule,
                )
            else:
                self._resource(kind, "patch")(object_id, schedule=schedule)

    def archive(self, kind: ObjectKind, object_id: int) -> None:
        with self.errors():
            self._resource(kind, "put_archive")(object_id, status=True)

    def _resource(self, kind: ObjectKind, verb: str) -> Any:
        if kind.script:  # scripts.get_sql, scripts.patch_containers, scripts.put_python3_archive
            name = f"{verb}_{kind.name}" if verb != "put_archive" else f"put_{kind.name}_archive"
            return getattr(self.client.scripts, name)
        return getattr(getattr(self.client, kind.name), verb)

    @contextmanager
    def errors(self, passthrough_404: bool = False) -> Iterator[None]:
        with _translated(self.endpoint, passthrough_404=passthrough_404):
            yield


def _snake(name: str) -> str:
    """scheduledDaysOfMonth -> scheduled_days_of_month"""
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


def connect(environ: Mapping[str, str] | None = None) -> CivisSession:
    """A client for `CIVIS_API_ENDPOINT` with `CIVIS_API_KEY`; fetches the API spec now, so a
    wrong endpoint or key fails here, with one line.

    The spec (`GET /endpoints`) is fetched here rather than by `APIClient()`, whose own fetch has
    no timeout and retries a throttled or unavailable endpoint for up to ten minutes; the
    client then builds its methods from that same document (`local_api_spec`)."""
    env = os.environ if environ is None else environ
    key = (env.get("CIVIS_API_KEY") or "").strip()
    endpoint = (env.get("CIVIS_API_ENDPOINT") or "").strip() or DEFAULT_ENDPOINT
    if not key:
        raise CivisConfigError(endpoint, "CIVIS_API_KEY is not set (the key of the Civis user to act as)")
    try:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # civis.parallel's deprecation notice
            import civis
        import tenacity
    except ImportError:
        raise CivisMigrationError(
            "civis-python is not installed: install the `civis` extra (pip install -e '.[civis]')"
        ) from None
    retrying = tenacity.Retrying(
        wait=tenacity.wait_random_exponential(multiplier=0.5, max=10),
        stop=tenacity.stop_after_attempt(MAX_ATTEMPTS) | tenacity.stop_before_delay(MAX_RETRY_SECONDS),
        # when retries run out, hand back the last response: the client then raises its API error
        retry_error_callback=lambda state: state.outcome.result(),
    )
    with _translated(endpoint, spec=True):
        spec = _fetch_spec(endpoint, key)
    # civis-python reads the endpoint from the environment when it builds each resource
    saved = os.environ.get("CIVIS_API_ENDPOINT")
    os.environ["CIVIS_API_ENDPOINT"] = endpoint
    try:
        with _translated(endpoint, spec=True):
            client = civis.APIClient(api_key=key, return_type="raw", retries=retrying, local_api_spec=spec)
    finally:
        if saved is None:
            os.environ.pop("CIVIS_API_ENDPOINT", None)
        else:
            os.environ["CIVIS_API_ENDPOINT"] = saved
    return CivisSession(client, endpoint)


def _fetch_spec(endpoint: str, key: str) -> "OrderedDict[str, Any]":
    """GET {endpoint}endpoints with a timeout, retrying 429/502/503/504 a bounded number of
    times and never sleeping past MAX_RETRY_SECONDS (Retry-After honoured within that)."""
    import random
    import time

    import requests
    from civis.base import get_headers

    url = endpoint.rstrip("/") + "/endpoints"
    deadline = time.monotonic() + MAX_RETRY_SECONDS
    with requests.Session() as http:
        http.auth = (key, "")
        http.headers.update(get_headers(None))
        for attempt in range(1, MAX_ATTEMPTS + 1):
            response = http.get(url, timeout=SPEC_TIMEOUT)
            if response.status_code not in (429, 502, 503, 504):
                break
            try:
                retry_after = float(response.headers.get("Retry-After") or 0)
            except ValueError:
                retry_after = 0.0
            pause = max(retry_after, random.uniform(0, min(10.0, 0.5 * 2**attempt)))
            if attempt == MAX_ATTEMPTS or time.monotonic() + pause > deadline:
                break
            time.sleep(pause)
    if response.status_code in (401, 403):
        raise CivisConfigError(endpoint, f"the API key was refused ({response.status_code}): check CIVIS_API_KEY", response.status_code)
    if response.status_code == 429:
        raise CivisApiError(endpoint, f"still throttled (429), gave up after {attempt} tries: GET /endpoints", 429)
    if not response.ok:
        raise CivisApiError(endpoint, f"GET /endpoints failed ({response.status_code})", response.status_code)
    spec = response.json(object_pairs_hook=OrderedDict)
    if not isinstance(spec, dict) or not isinstance(spec.get("paths"), dict):
        raise ValueError("no paths")
    return spec


@contextmanager
def _translated(endpoint: str, *, spec: bool = False, passthrough_404: bool = False) -> Iterator[None]:
    """civis-python's and requests' exceptions -> CivisApiError with a one-line reason."""
    import requests
    from civis.base import CivisAPIError, CivisAPIKeyError
    from civis.response import CivisClientError

    try:
        yield
    except CivisApiError:
        raise
    except CivisAPIKeyError:
        raise CivisConfigError(endpoint, "the API key was refused (401): check CIVIS_API_KEY", 401) from None
    except CivisAPIError as exc:
        if passthrough_404 and exc.status_code == 404:
            raise
        request = exc._response.request
        where = f"{request.method} {request.path_url}"
        if exc.status_code == 429:
            reason = f"still throttled (429), gave up (at most {MAX_ATTEMPTS} tries in {MAX_RETRY_SECONDS:.0f} s): {where}"
        else:
            reason = f"{where} failed ({exc.status_code}): {exc.error_message}"
        raise CivisApiError(endpoint, reason, exc.status_code) from None
    except CivisClientError as exc:
        raise CivisApiError(endpoint, f"unreadable answer: {exc.error_message}") from None
    except requests.exceptions.InvalidURL:
        raise CivisConfigError(endpoint, "CIVIS_API_ENDPOINT is not a valid http(s) URL") from None
    except (requests.exceptions.MissingSchema, requests.exceptions.InvalidSchema):
        raise CivisConfigError(endpoint, "CIVIS_API_ENDPOINT is not a valid http(s) URL") from None
    except requests.exceptions.ConnectionError as exc:
        raise CivisApiError(endpoint, f"cannot connect ({_root_cause(exc)})") from None
    except requests.exceptions.Timeout:
        raise CivisApiError(endpoint, "the request timed out") from None
    except requests.exceptions.HTTPError as exc:
        status = exc.response.status_code if exc.response is not None else None
        if status in (401, 403) or "401" in str(exc) or "403" in str(exc):
            raise CivisConfigError(endpoint, "the API key was refused while fetching the API spec: check CIVIS_API_KEY", status) from None
        raise CivisApiError(endpoint, f"fetching the API spec failed ({status or exc})", status) from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        if not spec:
            raise
        raise CivisApiError(
            endpoint, f"this is not the Civis API: GET /endpoints gave no usable API spec ({type(exc).__name__})"
        ) from None


def _root_cause(exc: BaseException) -> str:
    """The innermost reason of a connection error, short: 'Connection refused'."""
    seen = exc
    while seen.__cause__ is not None or seen.__context__ is not None:
        seen = seen.__cause__ or seen.__context__  # type: ignore[assignment]
    text = str(seen)
    if "]" in text and text.startswith("["):  # "[Errno 111] Connection refused"
        text = text.split("]", 1)[1].strip()
    return text.split(":")[-1].strip() or type(seen).__name__
