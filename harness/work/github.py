"""A small GitHub REST/GraphQL client for ``loopwright review`` and ``loopwright ci``.

Built on httpx2 (the HTTP client the OpenAI and Anthropic SDKs already bring) and
tenacity. The API root is configurable for GitHub Enterprise Server
(``GITHUB_API_URL``, e.g. ``https://ghe.example.com/api/v3``); the GraphQL endpoint
is ``GITHUB_GRAPHQL_URL`` or derived from it. The token comes from ``GITHUB_TOKEN``
or ``GH_TOKEN``; without one, public repositories can still be read.

Every method returns GitHub's JSON (dicts, lists of dicts) as it arrives. Lists are
followed through their ``Link: <…>; rel="next"`` pages. Rate limits (403/429 with
``x-ratelimit-remaining: 0`` and ``x-ratelimit-reset``, ``retry-after``, or a
secondary-limit message), 5xx answers and connection errors are retried while the
waits fit in ``retry_budget`` seconds; every other failure raises
:class:`GitHubError` with a message that says what to do.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping

import httpx2
import tenacity

from harness.generators.retrying import stop_when_waits_exceed, wait_retry_after
from sandbox.redact import redact_all

DEFAULT_API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
TOKEN_ENV = ("GITHUB_TOKEN", "GH_TOKEN")


class GitHubError(Exception):
    """A GitHub API call that failed for good; ``status`` is the HTTP status (0: no answer)."""

    def __init__(self, message: str, status: int = 0):
        super().__init__(message)
        self.status = status


class _Retry(Exception):
    """A failure worth retrying after ``wait`` seconds (``None``: exponential backoff)."""

    def __init__(self, message: str, wait: float | None, status: int = 0):
        super().__init__(message)
        self.wait, self.status = wait, status

    @property
    def retry_after(self) -> float | None:
        """The wait for :class:`~harness.generators.retrying.wait_retry_after`."""
        return self.wait


def split_repo(full_name: str) -> tuple[str, str]:
    """``"owner/name"`` → ``("owner", "name")``.

    Raises:
        ValueError: not of the form OWNER/NAME.
    """
    owner, _, name = full_name.strip().partition("/")
    if not owner or not name or "/" in name:
        raise ValueError(f"{full_name!r} is not a repository name of the form OWNER/NAME")
    return owner, name


class GitHub:
    """GitHub API client.

    Args:
        token: the token (``None``: anonymous). token_env: the variable it came from,
            named in error messages.
        api_url: REST API root (default https://api.github.com).
        graphql_url: GraphQL endpoint (default: derived from ``api_url``).
        retry_budget: total seconds the client may sleep on rate limits and
            transient errors for one call. max_attempts: tries per call.
        transport: an httpx2 transport (tests); sleep: the sleep function (tests).
        timeout: seconds per request.
    """

    def __init__(self, token: str | None = None, *, api_url: str = DEFAULT_API_URL,
                 graphql_url: str | None = None, token_env: str = "GITHUB_TOKEN",
                 retry_budget: float = 120.0, max_attempts: int = 5, timeout: float = 30.0,
                 transport: httpx2.BaseTransport | None = None,
                 sleep: Callable[[float], None] = time.sleep):
        self.api_url = api_url.rstrip("/")
        self.graphql_url = graphql_url or _graphql_url(self.api_url)
        self.token, self.token_env = token, token_env
        self.retry_budget, self.max_attempts, self.sleep = retry_budget, max_attempts, sleep
        headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": API_VERSION,
                   "User-Agent": "loopwright"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._http = httpx2.Client(headers=headers, timeout=timeout, transport=transport,
                                   follow_redirects=True)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **kwargs) -> GitHub:
        """A client configured from ``GITHUB_API_URL``, ``GITHUB_GRAPHQL_URL`` and
        ``GITHUB_TOKEN`` / ``GH_TOKEN`` (the first set wins)."""
        env = os.environ if env is None else env
        name = next((n for n in TOKEN_ENV if env.get(n)), "")
        return cls(env.get(name) if name else None, api_url=env.get("GITHUB_API_URL") or DEFAULT_API_URL,
                   graphql_url=env.get("GITHUB_GRAPHQL_URL") or None, token_env=name or "GITHUB_TOKEN",
                   **kwargs)

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    # --- transport: retries and error messages ---------------------------------------

    def request(self, method: str, path_or_url: str, *, json: dict | None = None,
                params: dict | None = None) -> httpx2.Response:
        """One API call (``path_or_url`` relative to the API root, or absolute), retried
        on rate limits, 5xx and connection errors within the budget.

        Raises:
            GitHubError: any other 4xx, or retries exhausted (the message says why).
        """
        url = path_or_url if "://" in path_or_url else self.api_url + path_or_url
        json = redact_all(json) if json is not None else None  # nothing posted carries a secret
        what = f"{method} {url.removeprefix(self.api_url)}"

        def attempt() -> httpx2.Response:
            try:
                resp = self._http.request(method, url, json=json, params=params)
            except httpx2.TransportError as exc:
                raise _Retry(f"{what}: could not reach {self.api_url} ({type(exc).__name__}: {exc})",
                             None) from exc
            if resp.status_code < 400:
                return resp
            self._raise_for(resp, what)
            return resp  # unreachable

        # tenacity's stock strategies: the server's wait (Retry-After, rate-limit reset) when it
        # names one, else exponential backoff 2, 4, 8… s up to 30 s; no waiting past the budget
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(_Retry),
            wait=wait_retry_after(float("inf"), tenacity.wait_exponential(multiplier=2, max=30)),
            stop=tenacity.stop_after_attempt(self.max_attempts) | stop_when_waits_exceed(self.retry_budget),
            sleep=self.sleep, reraise=True)
        try:
            return retrying(attempt)
        except _Retry as exc:
            if exc.wait is not None and exc.wait > self.retry_budget:
                raise GitHubError(f"{exc} — that is beyond loopwright's retry budget of "
                                  f"{self.retry_budget:.0f} s; wait and run again, or use a token "
                                  "with a higher rate limit", exc.status) from None
            raise GitHubError(f"{exc} (gave up after {self.max_attempts} attempts)", exc.status) from None

    def _raise_for(self, resp: httpx2.Response, what: str) -> None:
        status, h = resp.status_code, resp.headers
        message = _message(resp)
        limited = h.get("x-ratelimit-remaining") == "0" or "rate limit" in message.lower()
        if status == 429 or (status == 403 and limited):
            if h.get("retry-after"):
                wait = max(0.0, float(h["retry-after"]))
            elif h.get("x-ratelimit-remaining") == "0" and h.get("x-ratelimit-reset"):
                wait = max(0.0, float(h["x-ratelimit-reset"]) - time.time()) + 1.0
            else:
                wait = 60.0  # secondary limit without headers: GitHub asks for at least a minute
            raise _Retry(f"{what}: GitHub rate limit reached ({message}); it resets in {wait:.0f} s",
                         wait, status)
        if status >= 500:
            raise _Retry(f"{what}: GitHub answered {status} ({message})", None, status)
        if status == 401:
            where = f"the token in {self.token_env}" if self.token else "this anonymous request"
            todo = ("create a new token (or check that the variable holds the whole token) and run again"
                    if self.token else "set GITHUB_TOKEN or GH_TOKEN to a token that can read the repository")
            raise GitHubError(f"{where} was rejected by {self.api_url} (401 {message}): {todo}", 401)
        if status == 404:
            raise GitHubError(f"{what}: not found or the token cannot see it (404); check the "
                              f"repository and pull request number, and that the token in "
                              f"{self.token_env} has access to the repository", 404)
        if status == 403:
            raise GitHubError(f"{what}: forbidden (403 {message}); the token in {self.token_env} lacks a "
                              "permission (in GitHub Actions grant `permissions: contents: write, "
                              "pull-requests: write`; fork pull requests get a read-only token)", 403)
        raise GitHubError(f"{what}: GitHub refused the request ({status} {message})", status)

    # --- helpers -------------------------------------------------------------------

    def paginate(self, path: str, params: dict | None = None) -> list[dict]:
        """GET every page of a list endpoint (100 per page), following ``Link: rel="next"``."""
        out: list[dict] = []
        url: str | None = path
        query: dict | None = {"per_page": 100, **(params or {})}
        while url:
            resp = self.request("GET", url, params=query)
            out.extend(resp.json())
            url, query = resp.links.get("next", {}).get("url"), None  # the next URL has the query
        return out

    def graphql(self, query: str, variables: dict) -> dict:
        """POST a GraphQL query; returns ``data``.

        Raises:
            GitHubError: HTTP failure, or an answer with ``errors``.
        """
        body = self.request("POST", self.graphql_url, json={"query": query, "variables": variables}).json()
        if body.get("errors"):
            raise GitHubError("GraphQL: " + "; ".join(e.get("message", "?") for e in body["errors"]))
        return body.get("data") or {}

    # --- endpoints -----------------------------------------------------------------

    def pull(self, repo: str, number: int) -> dict:
        """``GET /repos/{repo}/pulls/{number}``: ``head``/``base`` with ``ref``, ``sha``,
        ``repo.full_name`` (``head.repo`` is null for a deleted fork), ``base.repo.default_branch``."""
        return self.request("GET", f"/repos/{repo}/pulls/{number}").json()

    def review_comments(self, repo: str, number: int) -> list[dict]:
        """All review comments of a pull request, oldest first (``id``, ``path``, ``line``,
        ``original_line``, ``side``, ``body``, ``user.login``, ``in_reply_to_id``, ``commit_id``)."""
        return self.paginate(f"/repos/{repo}/pulls/{number}/comments")

    def resolved_comment_ids(self, repo: str, number: int) -> set[int]:
        """Database ids of every comment in a resolved review thread (GraphQL
        ``reviewThreads { isResolved comments { databaseId } }``; REST has no thread state).

        Raises:
            GitHubError: GraphQL unavailable or refused.
        """
        owner, name = split_repo(repo)
        resolved: set[int] = set()
        after = None
        while True:
            data = self.graphql(_THREADS, {"owner": owner, "name": name, "number": number, "after": after})
            threads = (((data.get("repository") or {}).get("pullRequest") or {}).get("reviewThreads") or {})
            for node in threads.get("nodes") or []:
                if node.get("isResolved"):
                    resolved.update(c["databaseId"] for c in (node.get("comments") or {}).get("nodes") or []
                                    if c.get("databaseId") is not None)
            page = threads.get("pageInfo") or {}
            if not page.get("hasNextPage"):
                return resolved
            after = page.get("endCursor")

    def reply(self, repo: str, number: int, comment_id: int, body: str) -> dict:
        """Reply in the thread of top-level review comment ``comment_id``; returns the new comment."""
        return self.request("POST", f"/repos/{repo}/pulls/{number}/comments/{comment_id}/replies",
                            json={"body": body}).json()

    def create_review(self, repo: str, number: int, body: str, comments: list[dict],
                      commit_id: str | None = None) -> dict:
        """A ``COMMENT`` review with line comments (``path``, ``line``, ``side``, optional
        ``start_line``/``start_side``, ``body``, e.g. a ```` ```suggestion ```` block)."""
        payload = {"body": body, "event": "COMMENT", "comments": comments}
        if commit_id:
            payload["commit_id"] = commit_id
        return self.request("POST", f"/repos/{repo}/pulls/{number}/reviews", json=payload).json()

    def issue_comments(self, repo: str, number: int) -> list[dict]:
        """All conversation comments of an issue or pull request, oldest first."""
        return self.paginate(f"/repos/{repo}/issues/{number}/comments")

    def create_issue_comment(self, repo: str, number: int, body: str) -> dict:
        """Post a conversation comment on an issue or pull request."""
        return self.request("POST", f"/repos/{repo}/issues/{number}/comments", json={"body": body}).json()

    def update_issue_comment(self, repo: str, comment_id: int, body: str) -> dict:
        """Replace the body of a conversation comment."""
        return self.request("PATCH", f"/repos/{repo}/issues/comments/{comment_id}", json={"body": body}).json()

    def upsert_comment(self, repo: str, number: int, marker: str, body: str,
                       create: bool = True) -> tuple[dict | None, bool]:
        """The sticky comment: edit the first comment containing ``marker`` in place,
        else post one (unless ``create`` is False). ``body`` must contain ``marker``.

        Returns:
            (the comment or None, True if it was created).
        """
        for comment in self.issue_comments(repo, number):
            if marker in (comment.get("body") or ""):
                return self.update_issue_comment(repo, comment["id"], body), False
        if not create:
            return None, False
        return self.create_issue_comment(repo, number, body), True


_THREADS = """query($owner: String!, $name: String!, $number: Int!, $after: String) {
  repository(owner: $owner, name: $name) {
    pullRequest(number: $number) {
      reviewThreads(first: 100, after: $after) {
        pageInfo { hasNextPage endCursor }
        nodes { isResolved comments(first: 100) { nodes { databaseId } } }
      }
    }
  }
}"""


def _graphql_url(api_url: str) -> str:
    """GitHub.com: ``https://api.github.com/graphql``; Enterprise Server: ``…/api/v3`` → ``…/api/graphql``."""
    if api_url.endswith("/api/v3"):
        return api_url[: -len("/v3")] + "/graphql"
    return api_url + "/graphql"


def _message(resp: httpx2.Response) -> str:
    """GitHub's error ``message`` (with validation ``errors``), else the start of the body."""
    try:
        body = resp.json()
    except ValueError:
        return resp.text[:200].strip() or resp.reason_phrase
    if not isinstance(body, dict):
        return str(body)[:200]
    msg = str(body.get("message") or resp.reason_phrase)
    details = [e.get("message") or e.get("code") or str(e) if isinstance(e, dict) else str(e)
               for e in body.get("errors") or []]
    return msg + (": " + "; ".join(str(d) for d in details) if details else "")
