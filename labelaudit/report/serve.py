"""Serving the reports folder on loopback, for the link in the Prefect UI (``labelaudit reports serve``).

A plain standard-library server: threaded, read-only, bound to a loopback address only. The reports hold the
audited data, so they are not exposed to the network by accident: another host is refused with
:class:`UnsafeHostError` (the CLI prints it as one line), and the way to share reports is to publish them to a
real web server (``reports_dir``/``base_url`` in ``labelaudit.toml``).

Only regular files inside the folder are served: every request path is resolved (symbolic links included) and
refused with 404 when it leads outside the folder; a folder is served by its ``index.html`` and never listed.
Every response, errors included, carries ``X-Content-Type-Options: nosniff``, no framing by other sites and a
Content-Security-Policy: an HTML page gets the policy written in its own ``<meta>`` (the report's, or the Data
Docs' from :mod:`labelaudit.report.data_docs`), so it is served under the same rules as when opened from disk;
any other response gets one that allows nothing.
"""

from __future__ import annotations

import html
import ipaddress
import logging
import os
import re
import socket
from functools import partial
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import BinaryIO

from labelaudit.errors import LabelAuditError

logger = logging.getLogger(__name__)

#: For responses that are not one of our pages (assets, errors, HTML without a policy of its own).
STRICT_POLICY = (
    "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self'; "
    "base-uri 'none'; form-action 'none'; object-src 'none'"
)
#: Bytes of an HTML file searched for its ``<meta http-equiv="Content-Security-Policy">``.
_HEAD_BYTES = 16_384
_META_POLICY = re.compile(
    rb"<meta\s+http-equiv=[\"']Content-Security-Policy[\"']\s+content=\"([^\"<>]*)\"", re.IGNORECASE
)


class UnsafeHostError(LabelAuditError, ValueError):
    """A host that is not a loopback address: the reports would be readable from the network."""


def page_policy(path: Path) -> str:
    """The Content-Security-Policy to send with ``path``: its own ``<meta>`` policy, else :data:`STRICT_POLICY`."""
    if path.suffix.lower() in (".html", ".htm"):
        with path.open("rb") as handle:
            match = _META_POLICY.search(handle.read(_HEAD_BYTES))
        if match:
            return html.unescape(match.group(1).decode("ascii", errors="replace"))  # the report writes &#39;
    return STRICT_POLICY


class _ReportHandler(SimpleHTTPRequestHandler):
    _policy = STRICT_POLICY

    def send_head(self) -> BinaryIO | None:
        """Serve a regular file that resolves inside the folder, a folder's ``index.html``, or 404."""
        self._policy = STRICT_POLICY
        root = Path(self.directory).resolve()
        target = Path(self.translate_path(self.path)).resolve()  # symbolic links followed, then checked
        if target.is_dir() and target.is_relative_to(root):
            path = self.path.split("?", 1)[0].split("#", 1)[0]
            if not path.endswith("/"):  # relative links in the folder's index.html need the slash
                self.send_response(HTTPStatus.MOVED_PERMANENTLY)
                self.send_header("Location", path + "/")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
            target = (target / "index.html").resolve()
        if not target.is_relative_to(root) or not target.is_file():
            self.send_error(HTTPStatus.NOT_FOUND, "File not found")
            return None
        self._policy = page_policy(target)
        try:
            handle = open(target, "rb")  # noqa: SIM115 - the base class closes it after copying
        except OSError:
            self.send_error(HTTPStatus.NOT_FOUND, "File not found")
            return None
        size = os.fstat(handle.fileno()).st_size
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-type", self.guess_type(str(target)))
        self.send_header("Content-Length", str(size))
        self.end_headers()
        return handle

    def list_directory(self, path: str | os.PathLike[str]) -> None:  # not reached (send_head); refused anyway
        self.send_error(HTTPStatus.NOT_FOUND, "File not found")
        return None

    def end_headers(self) -> None:
        self.send_header("Content-Security-Policy", f"{self._policy}; frame-ancestors 'self'")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("X-Frame-Options", "SAMEORIGIN")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def log_message(self, format: str, *args: object) -> None:
        logger.debug("%s - " + format, self.address_string(), *args)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _V6Server(ThreadingHTTPServer):
    address_family = socket.AF_INET6


def serve_reports(folder: str | os.PathLike[str], *, host: str = "127.0.0.1", port: int = 8765) -> ThreadingHTTPServer:
    """A server for ``folder`` on ``host:port``, bound but not yet serving.

    Call ``serve_forever()`` on the result (in a thread for tests) and ``shutdown()`` then ``server_close()``
    to stop it. ``port=0`` picks a free port: read it from ``server.server_address[1]``.

    Raises
    ------
    UnsafeHostError
        If ``host`` is not a loopback address (``0.0.0.0`` included: it listens on every interface).
    ValueError
        If ``folder`` is not a folder.
    """
    if not _is_loopback(host):
        raise UnsafeHostError(
            f"refusing to serve reports on {host!r}: they hold the audited data, so only loopback addresses "
            "(127.0.0.1, ::1, localhost) are served; to share them, publish to a web server (base_url)"
        )
    root = Path(folder).expanduser().resolve()
    if not root.is_dir():
        raise ValueError(f"{root} is not a folder; publish a report first (labelaudit audit ...)")
    handler = partial(_ReportHandler, directory=str(root))
    server_class = _V6Server if ":" in host else ThreadingHTTPServer
    server = server_class((host, port), handler)
    server.daemon_threads = True
    return server


def report_server_url(server: ThreadingHTTPServer) -> str:
    """``http://host:port/`` of a server from :func:`serve_reports`."""
    host, port = server.server_address[:2]
    shown = f"[{host}]" if ":" in str(host) else host
    return f"http://{shown}:{port}/"
