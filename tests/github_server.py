"""A local fake GitHub speaking the REST (and one GraphQL) endpoints loopwright uses.

Response shapes follow GitHub's REST API (v2022-11-28): pull requests with
``head``/``base`` (``ref``, ``sha``, ``repo.full_name``, ``repo.default_branch``),
review comments (``id``, ``path``, ``line``, ``original_line``, ``side``, ``body``,
``user.login``, ``in_reply_to_id``, ``commit_id``), issue comments, reviews; errors
as ``{"message", "documentation_url"}``; ``Link`` pagination; ``x-ratelimit-*``
headers on every answer. ``POST /graphql`` answers the ``reviewThreads`` query.
Binds 127.0.0.1 on a free port; every request is recorded.

    with GitHubServer(token="t") as gh:
        gh.add_pull("o/r", 1, head_ref="feature", head_sha=sha)
        gh.add_comment("o/r", 1, path="a.py", line=3, body="rename this")
        gh.fail("GET", "/repos/o/r/pulls/1", 429, {"retry-after": "0"})   # the next call only
        ...
        assert [r.method for r in gh.requests] == [...]
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

DOCS = "https://docs.github.com/rest"


@dataclass
class Received:
    """One request: method, path (no query), query (first values), headers, JSON body."""

    method: str
    path: str
    query: dict
    headers: dict
    body: dict | list | None


@dataclass
class _Repo:
    pulls: dict = field(default_factory=dict)
    review_comments: dict = field(default_factory=dict)  # number -> [comment]
    issue_comments: dict = field(default_factory=dict)  # number -> [comment]
    reviews: dict = field(default_factory=dict)  # number -> [review]


class GitHubServer:
    """Threaded fake GitHub; a context manager.

    Args:
        token: the only accepted token (``Authorization: Bearer``/``token``); None accepts any.
        page_size: largest page served (to exercise pagination).
        graphql: False answers ``/graphql`` with 404 (an API without GraphQL).
        commentable: ``{path: set of lines}`` a review comment may target (None: any line).

    Attributes:
        url: ``http://127.0.0.1:PORT`` (the API root). requests: every :class:`Received`.
        resolved: ids of top-level comments whose thread is resolved.
    """

    def __init__(self, token: str | None = "test-token", page_size: int = 100, graphql: bool = True,
                 commentable: dict | None = None):
        self.token, self.page_size, self.graphql_on, self.commentable = token, page_size, graphql, commentable
        self.repos: dict[str, _Repo] = {}
        self.resolved: set[int] = set()
        self.requests: list[Received] = []
        self._failures: list[tuple[str, str, int, dict, dict | None]] = []
        self._ids = iter(range(1000, 10**6))
        self._lock = threading.Lock()
        self._httpd = _Server(("127.0.0.1", 0), _handler(self))
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    def __enter__(self) -> GitHubServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    # --- fixtures ------------------------------------------------------------------

    def repo(self, full_name: str) -> _Repo:
        """The repository's data (created on first use)."""
        return self.repos.setdefault(full_name, _Repo())

    def add_pull(self, repo: str, number: int, head_ref: str, head_sha: str, base_ref: str = "main",
                 head_repo: str | None = None, default_branch: str = "main") -> dict:
        """A pull request; ``head_repo`` other than ``repo`` makes it a fork PR."""
        head_repo = head_repo or repo
        pr = {"url": f"{self.url}/repos/{repo}/pulls/{number}", "id": next(self._ids), "number": number,
              "state": "open", "title": f"PR {number}", "user": {"login": "author", "type": "User"},
              "html_url": f"https://github.example/{repo}/pull/{number}",
              "head": {"label": f"{head_repo.split('/')[0]}:{head_ref}", "ref": head_ref, "sha": head_sha,
                       "repo": _repo_json(head_repo, default_branch, fork=head_repo != repo)},
              "base": {"label": f"{repo.split('/')[0]}:{base_ref}", "ref": base_ref, "sha": "0" * 40,
                       "repo": _repo_json(repo, default_branch, fork=False)},
              "maintainer_can_modify": False, "draft": False}
        self.repo(repo).pulls[number] = pr
        return pr

    def add_comment(self, repo: str, number: int, path: str, line: int | None, body: str,
                    author: str = "reviewer", side: str = "RIGHT", in_reply_to: int | None = None,
                    resolved: bool = False) -> dict:
        """A review comment (a reply when ``in_reply_to`` is a comment id)."""
        pr = self.repo(repo).pulls[number]
        cid = next(self._ids)
        comment = {"url": f"{self.url}/repos/{repo}/pulls/comments/{cid}", "id": cid,
                   "node_id": f"PRRC_{cid}", "pull_request_review_id": next(self._ids),
                   "diff_hunk": "@@ -1,3 +1,3 @@", "path": path, "position": line, "original_position": line,
                   "commit_id": pr["head"]["sha"], "original_commit_id": pr["head"]["sha"],
                   "user": {"login": author, "type": "User"}, "body": body,
                   "created_at": _now(), "updated_at": _now(),
                   "html_url": f"{pr['html_url']}#discussion_r{cid}", "author_association": "MEMBER",
                   "start_line": None, "original_start_line": None, "start_side": None,
                   "line": line, "original_line": line, "side": side, "subject_type": "line"}
        if in_reply_to is not None:
            comment["in_reply_to_id"] = in_reply_to
        self.repo(repo).review_comments.setdefault(number, []).append(comment)
        if resolved:
            self.resolved.add(cid)
        return comment

    def fail(self, method: str, path: str, status: int, headers: dict | None = None,
             body: dict | None = None) -> None:
        """Answer the next ``method path`` request with ``status`` (queue several for several)."""
        self._failures.append((method, path, status, headers or {}, body))

    def issue_comments(self, repo: str, number: int) -> list[dict]:
        """The pull request's conversation comments."""
        return self.repo(repo).issue_comments.get(number, [])

    def reviews(self, repo: str, number: int) -> list[dict]:
        """Reviews created on the pull request."""
        return self.repo(repo).reviews.get(number, [])

    def replies(self, repo: str, number: int) -> list[dict]:
        """Review comments that are replies."""
        return [c for c in self.repo(repo).review_comments.get(number, []) if c.get("in_reply_to_id")]

    # --- routing ---------------------------------------------------------------------

    def handle(self, method: str, path: str, query: dict, headers: dict,
               body) -> tuple[int, dict, object]:
        with self._lock:
            self.requests.append(Received(method, path, query, headers, body))
            for i, (m, p, status, hdrs, fbody) in enumerate(self._failures):
                if m == method and p == path:
                    del self._failures[i]
                    return status, hdrs, fbody or {"message": _REASONS.get(status, "Error"),
                                                   "documentation_url": DOCS}
            auth = headers.get("authorization", "")
            if self.token is not None and auth not in (f"Bearer {self.token}", f"token {self.token}"):
                return 401, {}, {"message": "Bad credentials", "documentation_url": DOCS, "status": "401"}
            if path == "/graphql":
                return self._graphql(body or {})
            for pattern, verb, fn in self._routes():
                m = re.fullmatch(pattern, path)
                if m and verb == method:
                    repo = f"{m['owner']}/{m['name']}"
                    if repo not in self.repos:
                        return _not_found()
                    return fn(self.repos[repo], m, query, body or {})
            return _not_found()

    def _routes(self):
        r = r"/repos/(?P<owner>[^/]+)/(?P<name>[^/]+)"
        return [
            (r + r"/pulls/(?P<n>\d+)", "GET", self._get_pull),
            (r + r"/pulls/(?P<n>\d+)/comments", "GET", self._list_review_comments),
            (r + r"/pulls/(?P<n>\d+)/comments/(?P<id>\d+)/replies", "POST", self._reply),
            (r + r"/pulls/(?P<n>\d+)/reviews", "POST", self._create_review),
            (r + r"/issues/(?P<n>\d+)/comments", "GET", self._list_issue_comments),
            (r + r"/issues/(?P<n>\d+)/comments", "POST", self._create_issue_comment),
            (r + r"/issues/comments/(?P<id>\d+)", "PATCH", self._update_issue_comment),
        ]

    def _get_pull(self, repo: _Repo, m, query, body):
        pr = repo.pulls.get(int(m["n"]))
        return (200, {}, pr) if pr else _not_found()

    def _list_review_comments(self, repo: _Repo, m, query, body):
        return self._page(repo.review_comments.get(int(m["n"]), []), query, m.string)

    def _list_issue_comments(self, repo: _Repo, m, query, body):
        return self._page(repo.issue_comments.get(int(m["n"]), []), query, m.string)

    def _page(self, items: list, query: dict, base: str):
        size = min(int(query.get("per_page", 30)), self.page_size)
        page = int(query.get("page", 1))
        chunk = items[(page - 1) * size: page * size]
        headers = {}
        if page * size < len(items):
            headers["Link"] = (f'<{self.url}{base}?per_page={size}&page={page + 1}>; rel="next", '
                               f'<{self.url}{base}?per_page={size}&page={-(-len(items) // size)}>; rel="last"')
        return 200, headers, chunk

    def _reply(self, repo: _Repo, m, query, body):
        number, cid = int(m["n"]), int(m["id"])
        comments = repo.review_comments.get(number, [])
        target = next((c for c in comments if c["id"] == cid), None)
        if target is None:
            return _not_found()
        if target.get("in_reply_to_id"):
            return 422, {}, {"message": "Validation Failed", "documentation_url": DOCS,
                             "errors": [{"message": "replies to replies are not supported"}]}
        full = next(name for name, data in self.repos.items() if data is repo)
        reply = self.add_comment(full, number, target["path"], target["line"], body.get("body", ""),
                                 author="loopwright[bot]", side=target["side"], in_reply_to=cid)
        return 201, {}, reply

    def _create_review(self, repo: _Repo, m, query, body):
        problems = []
        for c in body.get("comments") or []:
            if not c.get("path") or not c.get("body") or not isinstance(c.get("line"), int):
                problems.append("each comment needs path, line and body")
            elif self.commentable is not None:
                lines = set(range(c.get("start_line") or c["line"], c["line"] + 1))
                if not lines <= set(self.commentable.get(c["path"], ())):
                    problems.append("Line could not be resolved")
        if problems:
            return 422, {}, {"message": "Unprocessable Entity", "documentation_url": DOCS,
                             "errors": sorted(set(problems))}
        review = {"id": next(self._ids), "user": {"login": "loopwright[bot]", "type": "Bot"},
                  "body": body.get("body", ""), "state": "COMMENTED",
                  "commit_id": body.get("commit_id"), "submitted_at": _now(),
                  "comments": body.get("comments") or []}
        repo.reviews.setdefault(int(m["n"]), []).append(review)
        return 200, {}, review

    def _create_issue_comment(self, repo: _Repo, m, query, body):
        cid = next(self._ids)
        comment = {"id": cid, "node_id": f"IC_{cid}", "body": body.get("body", ""),
                   "user": {"login": "loopwright[bot]", "type": "Bot"}, "created_at": _now(),
                   "updated_at": _now(), "html_url": f"https://github.example/comment/{cid}",
                   "author_association": "NONE"}
        repo.issue_comments.setdefault(int(m["n"]), []).append(comment)
        return 201, {}, comment

    def _update_issue_comment(self, repo: _Repo, m, query, body):
        cid = int(m["id"])
        for comments in repo.issue_comments.values():
            for c in comments:
                if c["id"] == cid:
                    c["body"], c["updated_at"] = body.get("body", ""), _now()
                    return 200, {}, c
        return _not_found()

    def _graphql(self, body: dict):
        if not self.graphql_on:
            return _not_found()
        query, v = body.get("query", ""), body.get("variables") or {}
        if "reviewThreads" not in query:
            return 200, {}, {"errors": [{"message": "fake server: unsupported query"}]}
        repo = self.repos.get(f"{v.get('owner')}/{v.get('name')}")
        pr = repo and repo.pulls.get(v.get("number"))
        if not pr:
            return 200, {}, {"data": {"repository": None}, "errors": [
                {"type": "NOT_FOUND", "message": "Could not resolve to a Repository"}]}
        comments = repo.review_comments.get(v["number"], [])
        threads = []
        for top in (c for c in comments if not c.get("in_reply_to_id")):
            members = [top] + [c for c in comments if c.get("in_reply_to_id") == top["id"]]
            threads.append({"isResolved": top["id"] in self.resolved,
                            "comments": {"nodes": [{"databaseId": c["id"]} for c in members]}})
        return 200, {}, {"data": {"repository": {"pullRequest": {"reviewThreads": {
            "pageInfo": {"hasNextPage": False, "endCursor": None}, "nodes": threads}}}}}


_REASONS = {401: "Bad credentials", 403: "API rate limit exceeded for installation.", 404: "Not Found",
            422: "Validation Failed", 429: "API rate limit exceeded", 500: "Server Error",
            502: "Bad Gateway"}


def _not_found():
    return 404, {}, {"message": "Not Found", "documentation_url": DOCS, "status": "404"}


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _repo_json(full_name: str, default_branch: str, fork: bool) -> dict:
    owner, name = full_name.split("/")
    return {"id": abs(hash(full_name)) % 10**8, "name": name, "full_name": full_name,
            "owner": {"login": owner, "type": "User"}, "private": False, "fork": fork,
            "default_branch": default_branch, "html_url": f"https://github.example/{full_name}"}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False


def _handler(server: GitHubServer):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:
            pass

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = None
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, extra, payload = server.handle(self.command, parts.path, query, headers, body)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            base = {"x-ratelimit-limit": "5000", "x-ratelimit-remaining": "4999",
                    "x-ratelimit-reset": str(int(time.time()) + 3600), "x-ratelimit-used": "1",
                    "x-ratelimit-resource": "core", "X-GitHub-Media-Type": "github.v3; format=json"}
            for k, v in {**base, **extra}.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

    return Handler
