"""``labelaudit reports serve``: only files inside the folder, no listings, a policy and nosniff on every response."""

from __future__ import annotations

import http.client
import os
from collections.abc import Iterator
from pathlib import Path
from threading import Thread

import pytest
from labelaudit.flows.cli import app
from typer.testing import CliRunner

from labelaudit.report import report_server_url, serve_reports
from labelaudit.report.serve import STRICT_POLICY, UnsafeHostError


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A reports folder holding a page with its own policy, a folder without index, and links leading out."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("root:x:0:0", encoding="utf-8")
    (outside / "index.html").write_text("<p>outside</p>", encoding="utf-8")
    root = tmp_path / "reports"
    (root / "ds" / "run").mkdir(parents=True)
    (root / "ds" / "run" / "index.html").write_text(
        '<!DOCTYPE html><html><head><meta charset="utf-8">\n<meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; style-src 'sha256-abc'\"></head><body>report</body></html>",
        encoding="utf-8",
    )
    (root / "ds" / "run" / "escaped.html").write_text(  # as jinja2's autoescape writes the report's policy
        '<head><meta http-equiv="Content-Security-Policy" content="default-src &#39;none&#39;"></head>',
        encoding="utf-8",
    )
    (root / "ds" / "run" / "data.json").write_text("{}", encoding="utf-8")
    (root / "empty").mkdir()
    os.symlink(outside / "secret.txt", root / "passwd.txt")
    os.symlink(outside, root / "escape")
    return root


@pytest.fixture
def server(folder: Path) -> Iterator[str]:
    httpd = serve_reports(folder, port=0)
    Thread(target=httpd.serve_forever, daemon=True).start()
    yield report_server_url(httpd)
    httpd.shutdown()
    httpd.server_close()


def _get(base: str, path: str) -> http.client.HTTPResponse:
    host, port = base.removeprefix("http://").rstrip("/").rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    connection.request("GET", path)  # sent as written: no client-side normalisation of ".." or "%2e"
    response = connection.getresponse()
    response.body = response.read()  # type: ignore[attr-defined]
    connection.close()
    return response


@pytest.mark.parametrize(
    "path",
    [
        "/passwd.txt",
        "/escape/secret.txt",
        "/escape/",
        "/escape",
        "/../outside/secret.txt",
        "/%2e%2e/outside/secret.txt",
    ],
)
def test_nothing_outside_the_folder_is_served(server, path):
    response = _get(server, path)
    assert response.status == 404, f"{path} answered {response.status}: {response.body[:80]!r}"
    assert b"root:x" not in response.body and b"outside" not in response.body


@pytest.mark.parametrize("path", ["/", "/ds/", "/empty/"])
def test_folders_are_never_listed(server, path):
    response = _get(server, path)
    assert response.status == 404 or b"Directory listing" not in response.body
    assert b"<a href=" not in response.body


def test_a_folder_with_an_index_serves_it_and_a_missing_slash_redirects(server):
    assert _get(server, "/ds/run/").status == 200
    moved = _get(server, "/ds/run")
    assert moved.status == 301 and moved.getheader("Location") == "/ds/run/"


@pytest.mark.parametrize("path", ["/ds/run/index.html", "/ds/run/data.json", "/missing", "/empty/", "/passwd.txt"])
def test_every_response_has_a_policy_and_nosniff(server, path):
    response = _get(server, path)
    assert response.getheader("X-Content-Type-Options") == "nosniff"
    policy = response.getheader("Content-Security-Policy")
    if path.endswith(".html") and response.status == 200:  # a page: the policy in its own <meta>
        assert policy == "default-src 'none'; style-src 'sha256-abc'; frame-ancestors 'self'"
    else:
        assert policy == f"{STRICT_POLICY}; frame-ancestors 'self'"


def test_an_escaped_page_policy_is_sent_unescaped(server):
    assert _get(server, "/ds/run/escaped.html").getheader("Content-Security-Policy") == (
        "default-src 'none'; frame-ancestors 'self'"
    )


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "example.org", "::"])
def test_serve_reports_refuses_non_loopback_hosts(tmp_path, host):
    with pytest.raises(UnsafeHostError, match="loopback"):
        serve_reports(tmp_path, host=host, port=0)


def test_cli_refuses_every_interface_in_one_line(tmp_path):
    result = CliRunner().invoke(
        app, ["reports", "serve", "--host", "0.0.0.0", "--port", "0", "--reports", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: refusing to serve reports on '0.0.0.0'"), result.stderr
