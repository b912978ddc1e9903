"""Publishing reports to a folder people already read: a local folder, or any fsspec URL.

Layout of a destination (the URLs are stable: a run's report is found from its dataset and run id alone)::

    <destination>/index.html                      every run of every dataset, newest first
    <destination>/<dataset>/<run_id>/index.html   the report of one run
    <destination>/<dataset>/<run_id>/gx/...       that run's Great Expectations Data Docs, when given
    <destination>/_assets/gx/...                  the CSS, scripts and fonts every run's Data Docs share

Only the dataset name and the run id become path segments, and both must be plain names (letters, digits,
``_``, ``-``, ``.``, no ``..``): anything else is refused with :class:`UnsafePathError` before a byte is
written. Column names and other data never reach a path. Local files are written to a temporary name and then
renamed, so a reader (or ``labelaudit reports serve``) never sees half a page; a write that fails (a full disk)
removes its temporary file.

The index is rebuilt from the database under a lock (an ``fcntl`` lock on the destination folder itself for a
local folder, a process-wide lock for other filesystems), so runs publishing at the same time cannot drop each
other's line: whoever writes last has seen every report written before it.
"""

from __future__ import annotations

import os
import re
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import quote

import fsspec
from fsspec.implementations.local import LocalFileSystem

from labelaudit.errors import LabelAuditError
from labelaudit.inputs.definition import DATASET_NAME
from labelaudit.report import data_docs
from labelaudit.report.model import DEFAULT_MAX_FLAGGED_ROWS, load_index, load_run
from labelaudit.report.render import render_index, render_run
from labelaudit.run_ids import RUN_ID
from labelaudit.store import AuditStore

INDEX_FILE = "index.html"
DATA_DOCS_FOLDER = "gx"

try:  # POSIX; elsewhere the process-wide lock still orders this process's threads
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

_INDEX_LOCKS: dict[str, threading.Lock] = {}
_INDEX_LOCKS_GUARD = threading.Lock()


class UnsafePathError(LabelAuditError, ValueError):
    """A dataset name or run id that would not be a single plain folder name under the destination."""


@dataclass(frozen=True)
class PublishedReport:
    """Where a published page is.

    ``location`` is the local path or the fsspec URL of the file; ``url`` is what a person opens: the base
    URL joined with ``relative_path`` when one is configured, else a ``file://`` URL for a local folder, else
    ``location``.
    """

    location: str
    url: str
    relative_path: str


def _check_segment(value: str, pattern: re.Pattern[str], what: str) -> str:
    if not isinstance(value, str) or not pattern.match(value) or ".." in value:
        raise UnsafePathError(
            f"{what} {value!r} cannot be used as a folder name in the reports folder: use letters, digits, "
            "'_', '-' or '.' (no '..'), starting with a letter or digit"
        )
    return value


def report_relative_path(dataset: str, run_id: str) -> str:
    """``<dataset>/<run_id>/index.html``, refusing names that could leave the reports folder."""
    _check_segment(dataset, DATASET_NAME, "dataset name")
    _check_segment(run_id, RUN_ID, "run id")
    return f"{dataset}/{run_id}/{INDEX_FILE}"


class _Destination:
    """A folder on some fsspec filesystem, written only below its root."""

    def __init__(self, destination: str | os.PathLike[str], base_url: str | None) -> None:
        text = os.fspath(destination)
        if "://" in text or text.startswith(("memory:", "file:")):
            self.fs, root = fsspec.core.url_to_fs(text)
        else:
            self.fs, root = LocalFileSystem(), str(Path(text).expanduser().resolve())
        self.local = isinstance(self.fs, LocalFileSystem)
        if self.local:
            root = str(Path(root).resolve())
        self.root = root.rstrip("/") or "/"
        self.base_url = base_url.rstrip("/") + "/" if base_url else None

    def path(self, relative: str) -> str:
        parts = PurePosixPath(relative).parts
        if not parts or any(p in ("", ".", "..") or "/" in p or "\\" in p for p in parts) or relative.startswith("/"):
            raise UnsafePathError(f"refusing to write {relative!r} outside the reports folder")
        full = f"{self.root}/{relative}" if self.root != "/" else f"/{relative}"
        if self.local:  # a symlink inside the folder must not lead outside it either
            resolved = Path(full).resolve()
            if not resolved.is_relative_to(Path(self.root)):
                raise UnsafePathError(f"refusing to write {relative!r}: it resolves outside {self.root}")
        return full

    def location(self, relative: str) -> str:
        full = self.path(relative)
        return full if self.local else self.fs.unstrip_protocol(full)

    def url(self, relative: str) -> str:
        if self.base_url:
            return self.base_url + quote(relative)
        if self.local:
            return Path(self.path(relative)).as_uri()
        return self.location(relative)

    def published(self, relative: str) -> PublishedReport:
        return PublishedReport(self.location(relative), self.url(relative), relative)

    def write_text(self, relative: str, text: str) -> None:
        self.write_bytes(relative, text.encode("utf-8"))

    def write_bytes(self, relative: str, data: bytes) -> None:
        """Write a file whole: locally to a temporary name renamed into place, removed again if anything fails."""
        full = self.path(relative)
        parent = full.rsplit("/", 1)[0]
        self.fs.makedirs(parent, exist_ok=True)
        if not self.local:
            self.fs.pipe_file(full, data)
            return
        tmp = Path(parent) / f".{Path(full).name}.{uuid.uuid4().hex[:8]}.tmp"
        try:
            tmp.write_bytes(data)
            os.replace(tmp, full)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def same_bytes(self, relative: str, data: bytes) -> bool:
        full = self.path(relative)
        try:
            return self.fs.size(full) == len(data) and self.fs.cat_file(full) == data
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return False

    def replace_tree(
        self, local_dir: Path, relative: str, rewrite: Callable[[str, bytes], bytes | None] | None = None
    ) -> None:
        """Copy the files below ``local_dir`` to ``relative`` (removing what an earlier attempt left there).

        ``rewrite(path below relative, bytes)`` may return new bytes for a file, or None to leave it out.
        """
        target = self.path(relative)
        if self.fs.exists(target):
            self.fs.rm(target, recursive=True)
        self.fs.makedirs(target, exist_ok=True)
        for rel, source in _files_below(local_dir):
            data = source.read_bytes()
            data = rewrite(rel, data) if rewrite else data
            if data is not None:
                self.write_bytes(f"{relative}/{rel}", data)

    @contextmanager
    def index_lock(self) -> Iterator[None]:
        """Held while the index is rebuilt: other threads and, for a local folder, other processes wait."""
        key = f"{type(self.fs).__name__}:{self.root}"
        with _INDEX_LOCKS_GUARD:
            lock = _INDEX_LOCKS.setdefault(key, threading.Lock())
        with lock:
            if not (self.local and fcntl is not None):
                yield
                return
            Path(self.root).mkdir(parents=True, exist_ok=True)
            folder = os.open(self.root, os.O_RDONLY)  # the folder itself is the lock: no extra file in it
            try:
                fcntl.flock(folder, fcntl.LOCK_EX)
                yield
            finally:
                os.close(folder)  # releases the lock

    def published_reports(self) -> set[str]:
        """Relative paths of the run reports present, ``<dataset>/<run_id>/index.html``."""
        if self.local:  # pathlib: no glob metacharacters from the folder's own name
            root = Path(self.root)
            return {p.relative_to(root).as_posix() for p in root.glob(f"*/*/{INDEX_FILE}")} if root.is_dir() else set()
        prefix = "/" + self.root.strip("/")
        found = set()
        for path in self.fs.glob(f"{self.root}/*/*/{INDEX_FILE}"):
            text = "/" + str(path).lstrip("/")
            if text.startswith(prefix.rstrip("/") + "/"):
                found.add(text[len(prefix.rstrip("/")) + 1 :])
        return found


def _files_below(local_dir: Path) -> Iterator[tuple[str, Path]]:
    """``(posix path below local_dir, file)``, sorted; symbolic links are skipped (they may lead anywhere)."""
    for folder, dirs, files in os.walk(local_dir, followlinks=False):
        dirs.sort()
        rel_folder = Path(folder).relative_to(local_dir)
        for name in sorted(files):
            source = Path(folder) / name
            if not source.is_symlink():
                yield (rel_folder / name).as_posix(), source


def _publish_data_docs(target: _Destination, local_dir: Path, relative: str) -> None:
    """The run's Data Docs pages, rewritten to work offline under a policy, and the assets they share."""
    for name, source in data_docs.asset_files():
        destination = f"{data_docs.ASSETS_FOLDER}/{name}"
        data = source.read_bytes()
        if not target.same_bytes(destination, data):
            target.write_bytes(destination, data)

    def rewrite(rel: str, data: bytes) -> bytes | None:
        if rel.split("/", 1)[0] == data_docs.GX_STATIC_FOLDER:
            return None
        if not rel.endswith(".html"):
            return data
        page = data.decode("utf-8", errors="replace")
        return data_docs.offline_page(page, f"{relative}/{rel}").encode("utf-8")

    target.replace_tree(local_dir, relative, rewrite)


def publish_run(
    store: AuditStore,
    run_id: str,
    destination: str | os.PathLike[str] = "reports",
    base_url: str | None = None,
    data_docs_dir: Path | None = None,
    *,
    max_flagged_rows: int = DEFAULT_MAX_FLAGGED_ROWS,
) -> PublishedReport:
    """Render the report of ``run_id`` from the database and publish it, then refresh the index.

    Parameters
    ----------
    store : AuditStore
        The audit database the run is stored in.
    run_id : str
        The run to publish; :class:`~labelaudit.errors.RunNotFoundError` if it is not stored.
    destination : str or os.PathLike, default="reports"
        A local folder, or an fsspec URL (``s3://bucket/reports``, ``memory://reports``, ...).
    base_url : str, optional
        The URL the destination is served at (``https://reports.example.org/labelaudit``); the returned
        ``url`` is built on it. Without it, a local folder gives ``file://`` URLs.
    data_docs_dir : Path, optional
        The run's Great Expectations Data Docs folder; its pages are published to ``<dataset>/<run_id>/gx/``
        (loading their assets from ``_assets/gx/``, see :mod:`labelaudit.report.data_docs`) and linked.
    max_flagged_rows : int, default=50_000
        Flagged rows embedded in the page, most suspicious first.

    Returns
    -------
    PublishedReport
        Where the report of the run is. Earlier reports are left as they are.
    """
    view = load_run(store, run_id, max_flagged_rows=max_flagged_rows)
    relative = report_relative_path(view.dataset, view.run_id)
    target = _Destination(destination, base_url)
    run_folder = relative.rsplit("/", 1)[0]
    docs_href = None
    if data_docs_dir is not None and Path(data_docs_dir).is_dir():
        _publish_data_docs(target, Path(data_docs_dir), f"{run_folder}/{DATA_DOCS_FOLDER}")
        if (Path(data_docs_dir) / INDEX_FILE).is_file():
            docs_href = f"{DATA_DOCS_FOLDER}/{INDEX_FILE}"
    target.write_text(relative, render_run(view, index_href=f"../../{INDEX_FILE}", data_docs_href=docs_href))
    _publish_index(store, target)
    return target.published(relative)


def publish_index(
    store: AuditStore, destination: str | os.PathLike[str] = "reports", base_url: str | None = None
) -> PublishedReport:
    """Write ``<destination>/index.html`` listing every run per dataset, linking the reports present there."""
    return _publish_index(store, _Destination(destination, base_url))


def _publish_index(store: AuditStore, target: _Destination) -> PublishedReport:
    with target.index_lock():  # read the folder and the database, and write, as one step
        present = target.published_reports()
        hrefs: dict[tuple[str, str], str] = {}
        datasets = load_index(store)
        for dataset in datasets:
            for run in dataset.runs:
                try:
                    relative = report_relative_path(dataset.name, run.run_id)
                except UnsafePathError:  # a name that cannot have a report folder simply has no link
                    continue
                if relative in present:
                    hrefs[(dataset.name, run.run_id)] = quote(relative)
        target.write_text(INDEX_FILE, render_index(datasets, hrefs))
    return target.published(INDEX_FILE)
