"""GitHub's REST API with the standard library: paging, and retries on server errors and rate limits."""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Callable

API = "https://api.github.com"
ATTEMPTS = 5
MAX_WAIT_S = 120  # the longest single wait, whatever retry-after or the rate limit's reset asks


class GitHubError(Exception):
    """An API call that failed, after retries where a retry could help."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


def wait_before_retry(status: int, headers, attempt: int, now: float) -> float | None:
    """Seconds to wait before trying again, or None when a retry cannot help (a 404, a bad token)."""
    rate_limited = status == 429 or (status == 403 and headers.get("x-ratelimit-remaining") == "0")
    if not (rate_limited or status >= 500):
        return None
    if headers.get("retry-after", "").isdigit():
        wait = float(headers["retry-after"])
    elif rate_limited and headers.get("x-ratelimit-reset", "").isdigit():
        wait = float(headers["x-ratelimit-reset"]) - now + 1
    else:
        wait = 2.0 ** attempt  # 1, 2, 4, 8 s
    return min(max(wait, 1.0), MAX_WAIT_S)


class GitHub:
    def __init__(self, token: str | None = None, base: str = API,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.time):
        self.token = token or os.environ.get("GH_TOKEN") or os.environ.get("GITHUB_TOKEN")
        if not self.token:
            raise SystemExit("No token: set GH_TOKEN (the secret COURSE_GITHUB_TOKEN to read the students' "
                             "repositories, COURSE_FEEDBACK_TOKEN to deliver feedback).")
        self.base, self.sleep, self.clock = base, sleep, clock

    def get(self, path: str, raw: bool = False, **query) -> bytes | list | dict:
        url = f"{self.base}{path}" + (f"?{urllib.parse.urlencode(query)}" if query else "")
        body, _ = self.request("GET", url, raw=raw)
        return body if raw else json.loads(body)

    def send(self, method: str, path: str, data: dict) -> dict:
        """POST or PATCH a JSON body; GitHub's answer."""
        body, _ = self.request(method, f"{self.base}{path}", data=data)
        return json.loads(body)

    def pages(self, path: str, **query) -> list:
        """Every item of a listing, following the Link header (the activity API pages by cursor)."""
        url, items = f"{self.base}{path}?{urllib.parse.urlencode({'per_page': 100, **query})}", []
        while url:
            batch, url = self.page(url)
            items += batch
        return items

    def page(self, url: str) -> tuple[list, str | None]:
        body, headers = self.request("GET", url)
        return json.loads(body), next_link(headers.get("link", ""))

    def request(self, method: str, url: str, raw: bool = False, data: dict | None = None) -> tuple[bytes, dict]:
        """(body, headers with lowercase names) of one call, retried on 5xx, rate limits and dropped connections."""
        request = urllib.request.Request(url, method=method, headers={
            "Authorization": f"Bearer {self.token}", "X-GitHub-Api-Version": "2022-11-28",
            "Accept": "application/vnd.github.raw" if raw else "application/vnd.github+json"},
            data=None if data is None else json.dumps(data).encode())
        where = f"{method} {urllib.parse.urlsplit(url).path}"
        for attempt in range(ATTEMPTS):
            try:
                with self.open(request) as response:
                    return response.read(), {k.lower(): v for k, v in response.headers.items()}
            except urllib.error.HTTPError as error:
                headers = {k.lower(): v for k, v in (error.headers or {}).items()}
                wait = wait_before_retry(error.code, headers, attempt, self.clock())
                problem = GitHubError(f"{where}: HTTP {error.code} {error.reason}", error.code)
            except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
                wait, problem = 2.0 ** attempt, GitHubError(f"{where}: {error}")
            if wait is None or attempt == ATTEMPTS - 1:
                raise problem
            self.sleep(wait)
        raise AssertionError("unreachable")

    def open(self, request: urllib.request.Request):
        """The HTTP call itself (tests replace it with recorded answers)."""
        return urllib.request.urlopen(request, timeout=60)


def next_link(header: str) -> str | None:
    """The rel="next" address of a Link header, or None on the last page."""
    for part in header.split(","):
        address, _, relation = part.partition(";")
        if 'rel="next"' in relation:
            return address.strip().strip("<>")
    return None
