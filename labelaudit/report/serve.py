"""Serving the reports folder on loopback, for the link in the Prefect UI (``labelaudit reports serve``).

A plain standard-library server: threaded, read-only, bound to a loopback address only (the reports hold
the audited data, so they are not exposed to the network by accident). Pages are sent with headers that
forbid sniffing and framing; the report pages carry their own no-network Content-Security-Policy.
"""

from __future__ import annotations

import ipaddress
import logging
import os
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

logger = logging.getLogger(__name__)


class _ReportHandler(SimpleHTTPRequestHandler):
    def end_headers(self) -> None:
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


def serve_reports(folder: str | os.PathLike[str], *, host: str = "127.0.0.1", port: int = 8765) -> ThreadingHTTPServer:
    """A server for ``folder`` on ``host:port``, bound but not yet serving.

    Call ``serve_forever()`` on the result (in a thread for tests) and ``shutdown()`` then ``server_close()``
    to stop it. ``port=0`` picks a free port: read it from ``server.server_address[1]``.

    Raises
    ------
    ValueError
        If ``host`` is not a loopback address, or ``folder`` is not a folder.
    """
    if not _is_loopback(host):
        raise ValueError(f"refusing to serve reports on {host!r}: only loopback addresses (127.0.0.1, ::1)")
    root = Path(folder).expanduser().resolve()
    if not root.is_dir():
        raise ValueError(f"{root} is not a folder; publish a report first (labelaudit audit ...)")
    handler = partial(_ReportHandler, directory=str(root))
    server_class = ThreadingHTTPServer
    if ":" in host:
        import socket

        class _V6Server(ThreadingHTTPServer):
            address_family = socket.AF_INET6

        server_class = _V6Server
    server = server_class((host, port), handler)
    server.daemon_threads = True
    return server


def report_server_url(server: ThreadingHTTPServer) -> str:
    """``http://host:port/`` of a server from :func:`serve_reports`."""
    host, port = server.server_address[:2]
    shown = f"[{host}]" if ":" in str(host) else host
    return f"http://{shown}:{port}/"
