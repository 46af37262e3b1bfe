"""A loopback Hugging Face Hub: the part of its HTTP protocol that huggingface_hub 2.4 speaks.

    GET  /api/models/{owner}/{name}[/revision/{rev}]   repo info: id, sha, siblings, gated
    HEAD /{owner}/{name}/resolve/{rev}/{path}          X-Repo-Commit, ETag, Content-Length (hf_hub_download)
    GET  /{owner}/{name}/resolve/{rev}/{path}          the file, or one "Range: bytes=a-b" of it (206)

Errors as the Hub sends them (read by ``huggingface_hub.utils.hf_raise_for_status``): an unknown repo is
401 with ``X-Error-Code: RepoNotFound``; a gated repo without the right bearer token 401 ``GatedRepo``
(its info stays public, as on the Hub); an unknown revision 404 ``RevisionNotFound``; a missing file
404 ``EntryNotFound``. Every body byte sent is counted per file, to check what a fetch read.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse


@dataclass
class Repo:
    files: dict[str, bytes]
    commit: str
    refs: tuple[str, ...] = ("main",)
    gated_token: str | None = None  # gated: only this bearer token may read files


@dataclass
class Hub:
    repos: dict[str, Repo] = field(default_factory=dict)
    served: Counter = field(default_factory=Counter)  # (repo, path) -> body bytes sent
    requests: list = field(default_factory=list)  # (method, path, Range header)

    def add_folder(self, repo_id: str, folder: Path, **kw) -> Repo:
        files = {p.name: p.read_bytes() for p in sorted(Path(folder).iterdir()) if p.is_file()}
        commit = hashlib.sha1(repo_id.encode() + b"".join(files.values())).hexdigest()
        self.repos[repo_id] = repo = Repo(files, commit, **kw)
        return repo

    def bytes_served(self, repo_id: str, suffix: str = "") -> int:
        return sum(n for (r, p), n in self.served.items() if r == repo_id and p.endswith(suffix))


_API = re.compile(r"^/api/models/(?P<repo>[^/]+/[^/]+)(?:/revision/(?P<rev>[^/]+))?$")
_RESOLVE = re.compile(r"^/(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<path>.+)$")
_RANGE = re.compile(r"^bytes=(\d+)-(\d*)$")


def _handler(hub: Hub):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # quiet
            pass

        def _error(self, status: int, code: str, message: str = "") -> None:
            body = json.dumps({"error": message or code}).encode()
            self.send_response(status)
            self.send_header("X-Error-Code", code)
            if message:
                self.send_header("X-Error-Message", message)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _lookup(self, repo_id: str, rev: str | None, *, files: bool) -> Repo | None:
            repo = hub.repos.get(repo_id)
            if repo is None:
                self._error(401, "RepoNotFound", "Repository not found")
                return None
            if files and repo.gated_token is not None:
                if self.headers.get("authorization") != f"Bearer {repo.gated_token}":
                    self._error(401, "GatedRepo", "Access to model is restricted")
                    return None
            if rev is not None and rev not in repo.refs and rev != repo.commit:
                self._error(404, "RevisionNotFound", "Invalid rev id")
                return None
            return repo

        def do_HEAD(self):
            self._serve()

        def do_GET(self):
            self._serve()

        def _serve(self):
            url = urlparse(self.path)
            path = unquote(url.path)
            hub.requests.append((self.command, path, self.headers.get("Range")))
            if m := _API.match(path):
                repo = self._lookup(m["repo"], m["rev"], files=False)
                if repo is None:
                    return
                body = json.dumps({
                    "id": m["repo"], "sha": repo.commit, "private": False,
                    "gated": "manual" if repo.gated_token else False,
                    "siblings": [{"rfilename": name} for name in repo.files],
                }).encode()  # fmt: skip
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command == "GET":
                    self.wfile.write(body)
                return
            m = _RESOLVE.match(path)
            if m is None:
                return self._error(404, "NotFound", "no such route")
            repo = self._lookup(m["repo"], m["rev"], files=True)
            if repo is None:
                return
            data = repo.files.get(m["path"])
            if data is None:
                return self._error(404, "EntryNotFound", "Entry not found")
            start, stop, status = 0, len(data), 200
            if rng := self.headers.get("Range"):
                r = _RANGE.match(rng)
                if r is None or int(r[1]) >= len(data):
                    return self._error(416, "RangeNotSatisfiable")
                start, stop, status = int(r[1]), min(len(data), int(r[2]) + 1 if r[2] else len(data)), 206
            self.send_response(status)
            self.send_header("X-Repo-Commit", repo.commit)
            self.send_header("ETag", '"' + hashlib.sha1(data).hexdigest() + '"')
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Length", str(stop - start))
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{stop - 1}/{len(data)}")
            self.end_headers()
            if self.command == "GET":  # counted before sending: the client may assert as soon as it has them
                hub.served[(m["repo"], m["path"])] += stop - start
                self.wfile.write(data[start:stop])

    return Handler


class HubServer:
    """``with HubServer(hub) as url:`` serves ``hub`` on 127.0.0.1 (a free port) in a thread."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(hub))
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> str:
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self.url

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
