"""Great Expectations Data Docs made fit to publish next to a report: offline, and unable to run injected script.

GX 1.x pages load Bootstrap, jQuery, Font Awesome and friends from CDNs, and its logo from S3: offline they are
unstyled and throw ``$ is not defined``. Publishing rewrites each page to load the same files (same versions,
same bytes: the CDN's SRI hashes match) from one shared folder, ``<destination>/_assets/gx/``, vendored in
``labelaudit/report/static/gx/`` (see the README there). GX's own ``static/`` folder (4 MB of images and fonts
the pages do not use) is not published, so a run's Data Docs cost its few HTML pages.

Every page also gets a Content-Security-Policy as the first element of its ``<head>``, the same rules as the
report's: nothing from the network, scripts only from the shared folder or, inline, exactly the ones GX wrote
(by hash). :func:`labelaudit.inputs.gx_suite.run_suite` already escapes every value that came from the data, so the
policy is the second wall: an ``onerror=`` or ``<script>`` that slipped through would still not run.
"""

from __future__ import annotations

import base64
import hashlib
import html
import posixpath
import re
from collections.abc import Iterator
from importlib import resources
from importlib.resources.abc import Traversable

#: The shared folder, relative to the reports folder (not a valid dataset name, so no run can collide with it).
ASSETS_FOLDER = "_assets/gx"
#: GX's own folder of images and fonts inside a Data Docs site: not published (its pages reference none of it).
GX_STATIC_FOLDER = "static"

_STYLES = (
    "bootstrap-table.min.css",
    "bootstrap.min.css",
    "bootstrap-table-filter-control.min.css",
    "bootstrap-datepicker.min.css",
    "bootstrap-prefers-dark.min.css",
    "fontawesome-all.min.css",
)
_SCRIPTS = (
    "jquery.min.js",
    "popper.min.js",
    "bootstrap.min.js",
    "bootstrap-table.min.js",
    "bootstrap-table-filter-control.min.js",
    "bootstrap-datepicker.min.js",
)

_REMOTE_TAG = re.compile(
    r"""<(?:script|link)\b[^>]*?\b(?:src|href)\s*=\s*["']https?://[^"']*["'][^>]*>(?:\s*</script\s*>)?[ \t]*\n?""",
    re.IGNORECASE,
)
_GX_IMAGES = re.compile(r"https?://great-expectations-web-assets\.s3[^\"')\s]*", re.IGNORECASE)
_FAVICON = re.compile(r"""(?:\.\./|\./)*static/images/favicon\.ico""")
_HEAD = re.compile(r"<head\b[^>]*>", re.IGNORECASE)
_INLINE_SCRIPT = re.compile(r"<script\b([^>]*)>(.*?)</script\s*>", re.DOTALL | re.IGNORECASE)
_HANDLER = re.compile(r"""\son[a-z]+\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.IGNORECASE)


def asset_files() -> Iterator[tuple[str, Traversable]]:
    """``(path below ASSETS_FOLDER, file)`` for every vendored file, licences included."""
    root = resources.files("labelaudit.report").joinpath("static", "gx")

    def walk(folder: Traversable, prefix: str) -> Iterator[tuple[str, Traversable]]:
        for entry in sorted(folder.iterdir(), key=lambda e: e.name):
            if entry.is_dir():
                yield from walk(entry, f"{prefix}{entry.name}/")
            elif not entry.name.endswith(".md"):
                yield f"{prefix}{entry.name}", entry

    yield from walk(root, "")


def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


def content_security_policy(page: str) -> str:
    """The policy of one rewritten page: its own inline scripts and event handlers by hash, files from 'self'.

    Styles may be inline (GX styles elements through ``style=`` attributes everywhere); with no network
    source allowed, a style cannot send anything anywhere.
    """
    inline = sorted({_hash(body) for attrs, body in _INLINE_SCRIPT.findall(page) if "src" not in attrs.lower()})
    handlers = sorted({_hash(html.unescape(a or b)) for a, b in _HANDLER.findall(page)})
    scripts = " ".join(["'self'", *(["'unsafe-hashes'", *handlers] if handlers else []), *inline])
    return (
        f"default-src 'none'; script-src {scripts}; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "font-src 'self'; base-uri 'none'; form-action 'none'; object-src 'none'"
    )


def offline_page(page: str, page_path: str) -> str:
    """A GX Data Docs page loading its assets from :data:`ASSETS_FOLDER`, with its policy in the ``<head>``.

    ``page_path`` is where the page is published, relative to the reports folder
    (``reviews/<run_id>/gx/validations/.../labelaudit-batch.html``): the asset links are relative to it, so
    the page works from ``file://`` and over ``labelaudit reports serve`` alike.
    """
    assets = posixpath.relpath(ASSETS_FOLDER, posixpath.dirname(page_path) or ".")
    local = "".join(f'<link rel="stylesheet" href="{assets}/css/{name}">\n' for name in _STYLES) + "".join(
        f'<script src="{assets}/js/{name}"></script>\n' for name in _SCRIPTS
    )
    placed = False

    def replace(match: re.Match[str]) -> str:
        nonlocal placed
        if placed:
            return ""
        placed = True
        return local

    page = _REMOTE_TAG.sub(replace, page)
    page = _GX_IMAGES.sub(f"{assets}/img/logo-long.png", page)
    page = _FAVICON.sub(f"{assets}/img/favicon.ico", page)
    if not placed:
        page = page.replace("</head>", local + "</head>", 1)
    policy = f'<meta http-equiv="Content-Security-Policy" content="{content_security_policy(page)}">'
    head = _HEAD.search(page)
    if head is None:
        return f"<head>{policy}</head>{page}"
    return page[: head.end()] + "\n" + policy + page[head.end() :]
