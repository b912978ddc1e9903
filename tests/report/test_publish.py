"""Publishing: the folder layout, fsspec destinations, URLs, and names that try to leave the folder."""

from __future__ import annotations

import errno
import html
import multiprocessing
import os
import re
import resource
import shutil
import signal
import threading
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from threading import Thread

import fsspec
import pytest

from labelaudit.report import (
    PublishedReport,
    UnsafePathError,
    publish_index,
    publish_run,
    report_relative_path,
    report_server_url,
    serve_reports,
)
from labelaudit.store import AuditStore
from tests.report.builders import build_run, day


def test_layout_of_a_local_folder(published, audit):
    root = published.root
    hostile = published.reports["hostile"]
    assert hostile.relative_path == f"reviews/{audit.hostile.run_id}/index.html"
    assert hostile.location == str(root / "reviews" / audit.hostile.run_id / "index.html")
    assert hostile.url == (root / "reviews" / audit.hostile.run_id / "index.html").as_uri()
    assert (root / "index.html").is_file()
    assert (root / "reviews" / audit.hostile.run_id / "gx" / "validations" / "run.html").is_file()
    assert 'href="gx/index.html"' in Path(hostile.location).read_text(encoding="utf-8")
    index = (root / "index.html").read_text(encoding="utf-8")
    for run in (audit.accepted, audit.rejected, audit.failed, audit.hostile, audit.big):
        assert f'href="{run.dataset}/{run.run_id}/index.html"' in index
    assert not list(root.rglob("*.tmp"))


def test_old_reports_stay_and_the_index_lists_the_new_run(tmp_path, audit):
    store = AuditStore(tmp_path / "db.duckdb")
    first = build_run(
        store, dataset="tiny", run_id="run-1", rows=60, flagged=5, classes=["a", "b"], seed=7, started_at=day(0)
    )
    dest = tmp_path / "reports"
    one = publish_run(store, first.run_id, destination=dest)
    before = Path(one.location).read_bytes()
    second = build_run(
        store, dataset="tiny", run_id="run-2", rows=60, flagged=9, classes=["a", "b"], seed=8, started_at=day(1)
    )
    publish_run(store, second.run_id, destination=dest)
    assert Path(one.location).read_bytes() == before
    index = (dest / "index.html").read_text(encoding="utf-8")
    assert 'href="tiny/run-1/index.html"' in index and 'href="tiny/run-2/index.html"' in index
    # a run that was never published is listed without a link
    build_run(store, dataset="tiny", run_id="run-3", rows=60, flagged=3, classes=["a", "b"], seed=9, started_at=day(2))
    publish_index(store, destination=dest)
    index = (dest / "index.html").read_text(encoding="utf-8")
    assert 'href="tiny/run-3/index.html"' not in index and "not published" in index


def test_memory_filesystem_and_base_url(audit):
    fs = fsspec.filesystem("memory")
    out = publish_run(
        audit.store,
        audit.accepted.run_id,
        destination="memory://published-reports",
        base_url="https://reports.example.org/labelaudit/",
    )
    assert out == PublishedReport(
        location=f"memory:///published-reports/reviews/{audit.accepted.run_id}/index.html",
        url=f"https://reports.example.org/labelaudit/reviews/{audit.accepted.run_id}/index.html",
        relative_path=f"reviews/{audit.accepted.run_id}/index.html",
    )
    assert fs.cat_file(f"/published-reports/reviews/{audit.accepted.run_id}/index.html").startswith(b"<!DOCTYPE html>")
    index = fs.cat_file("/published-reports/index.html").decode()
    assert f'href="reviews/{audit.accepted.run_id}/index.html"' in index
    assert f'href="reviews/{audit.rejected.run_id}/index.html"' not in index  # not published there
    again = publish_index(audit.store, destination="memory://published-reports")
    assert again.location == "memory:///published-reports/index.html"


def test_file_url_destination(tmp_path, audit):
    out = publish_run(audit.store, audit.accepted.run_id, destination=(tmp_path / "via-url").as_uri())
    assert Path(out.location).is_file()
    assert out.location.startswith(str(tmp_path))


@pytest.mark.parametrize(
    ("dataset", "run_id"),
    [
        ("../evil", "r1"),
        ("ok", "../../evil"),
        ("a/b", "r1"),
        ("ok", "r1/.."),
        ("..", "r1"),
        ("ok", ""),
        (".hidden", "r1"),
        ("ok", "r\\1"),
        ("ok", "x" * 200),
    ],
)
def test_unsafe_names_are_refused(dataset, run_id):
    with pytest.raises(UnsafePathError):
        report_relative_path(dataset, run_id)


def test_a_stored_run_with_a_traversing_name_writes_nothing(tmp_path):
    store = AuditStore(tmp_path / "db.duckdb")
    # begin_run does not validate names (the flow does); the publisher must refuse on its own.
    bad = build_run(store, dataset="../../escaped", run_id="r1", rows=40, flagged=3, classes=["a", "b"], seed=1)
    dest = tmp_path / "deep" / "reports"
    with pytest.raises(UnsafePathError):
        publish_run(store, bad.run_id, destination=dest)
    assert not (tmp_path / "escaped").exists() and not dest.exists()
    # the index still lists it, without a link
    out = publish_index(store, destination=dest)
    html = Path(out.location).read_text(encoding="utf-8")
    assert "../../escaped" in html and 'href="../../escaped' not in html
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == sorted(["db.duckdb", "index.html"])


def test_column_names_never_reach_a_path(tmp_path):
    store = AuditStore(tmp_path / "db.duckdb")
    build_run(store, dataset="cols", run_id="r1", rows=40, flagged=3, classes=["a", "b"], seed=1, hostile=True)
    with store.connect() as con:  # a column named like a path, stored as ingest would
        con.execute(
            "UPDATE ingested_columns SET column_name = '../../../etc/passwd' WHERE run_id = 'r1' AND position = 2"
        )
    dest = tmp_path / "reports"
    publish_run(store, "r1", destination=dest)
    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert written == ["db.duckdb", "reports/cols/r1/index.html", "reports/index.html"]


def test_a_symlink_inside_the_folder_cannot_lead_outside(tmp_path, audit):
    outside = tmp_path / "outside"
    outside.mkdir()
    dest = tmp_path / "reports"
    dest.mkdir()
    os.symlink(outside, dest / "reviews")
    with pytest.raises(UnsafePathError):
        publish_run(audit.store, audit.accepted.run_id, destination=dest)
    assert not any(outside.iterdir())


def test_serve_reports_on_loopback(published):
    server = serve_reports(published.root, port=0)
    thread = Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = report_server_url(server)
        assert base.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(base + published.reports["accepted"].relative_path, timeout=5) as response:
            assert response.status == 200
            assert response.headers["X-Content-Type-Options"] == "nosniff"
            assert b"Label audit of" in response.read()
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(base + "../../etc/passwd", timeout=5)
        assert missing.value.code == 404
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "example.org"])
def test_serve_reports_refuses_non_loopback_hosts(tmp_path, host):
    with pytest.raises(ValueError, match="loopback"):
        serve_reports(tmp_path, host=host, port=0)


# -- the index under concurrent publishing and failing writes (issue 16) -------------------------------------


@pytest.mark.parametrize("attempt", range(4))  # without the lock, about two attempts in three lost lines
def test_eight_runs_published_at_once_are_all_in_the_index(tmp_path, attempt):
    store = AuditStore(tmp_path / "db.duckdb")
    runs = [
        build_run(store, dataset="race", run_id=f"run-{i}", rows=40, flagged=3, classes=["a", "b"], seed=i)
        for i in range(8)
    ]
    dest = tmp_path / "reports"
    barrier = threading.Barrier(len(runs))

    def publish(run_id: str) -> str:
        barrier.wait()  # every thread starts publishing at the same moment
        return publish_run(store, run_id, destination=dest).relative_path

    with ThreadPoolExecutor(max_workers=len(runs)) as pool:
        published = list(pool.map(publish, [run.run_id for run in runs]))
    index = (dest / "index.html").read_text(encoding="utf-8")
    missing = [p for p in published if f'href="{p}"' not in index]
    assert missing == [], f"reports published at the same time but missing from the index: {missing}"
    assert not list(dest.rglob("*.tmp"))


def test_a_failing_index_write_leaves_no_temporary_file(tmp_path, audit):
    dest = tmp_path / "reports"
    publish_index(audit.store, destination=dest)
    (dest / "index.html").unlink()
    (dest / "index.html").mkdir()  # the rename onto it fails, like any write error after the temporary file
    with pytest.raises(OSError):
        publish_index(audit.store, destination=dest)
    assert sorted(p.name for p in dest.iterdir()) == ["index.html"]


def _publish_index_with_a_full_disk(database: str, destination: str) -> None:
    """In a child process: files may not grow past 4 KiB, so writing the index fails half-way (EFBIG)."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
    try:
        publish_index(AuditStore(database), destination=destination)
    except OSError as exc:
        os._exit(10 if exc.errno == errno.EFBIG else 11)
    os._exit(0)


def test_a_full_disk_while_writing_the_index_leaves_no_temporary_file(tmp_path, audit):
    dest = tmp_path / "reports"
    dest.mkdir()
    database = tmp_path / "copy.duckdb"
    shutil.copy(audit.store.path, database)
    child = multiprocessing.get_context("fork").Process(
        target=_publish_index_with_a_full_disk, args=(str(database), str(dest))
    )
    child.start()
    child.join(120)
    assert child.exitcode == 10, "the index write should have failed with EFBIG (file size limit)"
    assert [p.name for p in dest.iterdir()] == []


def test_index_cuts_long_failure_messages_at_a_word_and_keeps_the_full_text(tmp_path):
    store = AuditStore(tmp_path / "db.duckdb")
    run = build_run(
        store, dataset="cut", run_id="r1", rows=40, flagged=0, classes=["a", "b"], seed=1, fail_validation=True
    )
    message = "schema check failed: " + " ".join(f"column_{i} is missing from the batch" for i in range(12))
    store.finish_run(run.run_id, status="failed", message=message)
    out = publish_index(store, destination=tmp_path / "reports")
    page = Path(out.location).read_text(encoding="utf-8")
    shown = re.search(r'<span class="why" title="([^"]*)">([^<]*)</span>', page)
    assert shown is not None
    assert html.unescape(shown.group(1)) == message
    text = html.unescape(shown.group(2))
    assert text.endswith("…") and len(text) <= 160
    assert message.startswith(text[:-1]) and message[len(text) - 1] == " ", f"cut mid-word: {text!r}"
