"""The pictures' geometry: what is drawn for small exact inputs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from labelaudit.report import charts, svg
from labelaudit.report.model import ClassView, GateView, HistogramBin, NoiseCell, TrendPoint


def _texts(chart: charts.Chart) -> list[str]:
    return [s.text for s in chart.shapes if isinstance(s, charts.Text)]


def test_heatmap_cells_are_shares_of_the_given_label():
    labels = ["a", "b"]
    joint = {("a", "a"): 0.4, ("a", "b"): 0.1, ("b", "a"): 0.05, ("b", "b"): 0.45}
    cells = [NoiseCell(g, t, 0.0, p, 0.0) for (g, t), p in joint.items()]
    chart = charts.noise_heatmap(cells, labels, rows=1000)
    assert _texts(chart)[-4:] == ["80%", "20%", "10%", "90%"]
    tips = [s.title for s in chart.shapes if isinstance(s, charts.Rect)]
    assert "about 100 rows" in tips[1]


def test_heatmap_draws_the_busiest_classes_when_there_are_many():
    labels = [f"c{i:02d}" for i in range(45)]
    cells = [
        NoiseCell(g, t, 0.0, 0.02 if g == t else (0.001 if g == "c44" else 0.0), 0.0) for g in labels for t in labels
    ]
    chart = charts.noise_heatmap(cells, labels, rows=100)
    rects = [s for s in chart.shapes if isinstance(s, charts.Rect)]
    assert len(rects) == charts.MAX_HEATMAP_CLASSES**2
    assert "c44" in _texts(chart)
    assert "Only the 30 of 45 classes" in chart.desc


def test_no_data_no_picture():
    assert charts.noise_heatmap([], [], rows=0) is None
    assert charts.class_error_bars([]) is None
    assert charts.score_histogram([], None) is None
    assert charts.trend_chart([]) is None
    assert charts.sparkline([]) is None


def test_class_bars_mark_breaches_and_limits():
    classes = [ClassView("a", 100, 5, 0.05, 0.05, 0.9), ClassView("b", 100, 30, 0.3, 0.3, 0.6)]
    gate = [GateView("GATE-CLASS-ERR", "max_class_label_error_rate", "b", "max", 0.2, 0.3, False, -0.1)]
    chart = charts.class_error_bars(classes, gate)
    fills = [s.fill for s in chart.shapes if isinstance(s, charts.Rect)]
    assert fills == [charts.BAR, charts.BAD]
    assert "5.0%" in _texts(chart) and "30.0%" in _texts(chart)


def test_histogram_stacks_flagged_rows_and_marks_the_cutoff():
    bins = [HistogramBin(i / 4, (i + 1) / 4, f, u) for i, (f, u) in enumerate([(3, 1), (1, 5), (0, 20), (0, 100)])]
    chart = charts.score_histogram(bins, 0.3)
    red = [s for s in chart.shapes if isinstance(s, charts.Rect) and s.fill == charts.BAD]
    assert len(red) == 2
    assert "highest flagged score 0.300" in _texts(chart)


def test_trend_rings_the_current_run_and_ticks_are_round():
    start = datetime(2026, 11, 1, tzinfo=UTC)
    points = [
        TrendPoint(f"r{i}", start + timedelta(days=i), rate, verdict, i == 2)
        for i, (rate, verdict) in enumerate([(0.04, "accepted"), (0.12, "rejected"), (0.05, "accepted")])
    ]
    chart = charts.trend_chart(points, limit=0.08)
    circles = [s for s in chart.shapes if isinstance(s, charts.Circle)]
    assert [c.r for c in circles] == [4, 4, 7]
    assert [c.fill for c in circles] == [charts.OK, charts.BAD, charts.OK]
    assert [t for t in _texts(chart) if t.endswith("%")][:5] == ["0%", "5%", "10%", "15%", "20%"]
    single = charts.sparkline(points[:1])
    assert single.shapes[0].cx == pytest.approx(60)


@pytest.mark.parametrize(("value", "expected"), [(0.13, 0.2), (0.2, 0.2), (0.031, 0.05), (7.0, 10.0), (0.0, 1.0)])
def test_nice_ceiling(value, expected):
    assert svg.nice_ceiling(value) == pytest.approx(expected)


def _pictures() -> dict[str, charts.Chart]:
    labels = [f"class-with-a-long-name-{i}" for i in range(12)]
    cells = [NoiseCell(g, t, 0.0, 0.05 if g == t else 0.002, 0.0) for g in labels for t in labels]
    classes = [ClassView(label, 100, 5, 0.05 + i / 100, 0.05, 0.9) for i, label in enumerate(labels)]
    gate = [GateView("GATE-ERR", "max_label_error_rate", "overall", "max", 0.15, 0.1, True, 0.05)]
    start = datetime(2026, 11, 1, tzinfo=UTC)
    points = [TrendPoint(f"r{i}", start + timedelta(days=i), 0.04 + i / 100, "accepted") for i in range(8)]
    bins = [HistogramBin(i / 20, (i + 1) / 20, 10 if i < 6 else 0, 10_000 * i) for i in range(20)]
    return {
        "noise": charts.noise_heatmap(cells, labels, rows=100_000),
        "classes": charts.class_error_bars(classes, gate),
        "scores": charts.score_histogram(bins, 0.52),
        "trend": charts.trend_chart(points, 0.15),
    }


@pytest.mark.parametrize("name", ["noise", "classes", "scores", "trend"])
def test_every_picture_has_a_phone_drawing_that_needs_no_shrinking(name):
    wide = _pictures()[name]
    compact = wide.compact
    assert compact is not None and compact.compact is None
    assert compact.width <= charts.COMPACT_WIDTH < wide.width
    for chart in (wide, compact):
        texts = [s for s in chart.shapes if isinstance(s, charts.Text)]
        assert min(t.size for t in texts) >= charts.MIN_FONT
        for t in texts:  # horizontal text stays inside the picture (rotated labels have their own margin)
            if t.rotate is None:
                width = svg.text_width(t.text, t.size)
                lo = {"start": t.x, "middle": t.x - width / 2, "end": t.x - width}[t.anchor]
                assert lo >= 0 and lo + width <= chart.width + 1, (name, t.text)


def test_the_phone_heatmap_draws_the_busiest_ten_classes():
    compact = _pictures()["noise"].compact
    rects = [s for s in compact.shapes if isinstance(s, charts.Rect)]
    assert len(rects) == charts.MAX_COMPACT_HEATMAP_CLASSES**2
    assert "Only the 10 of 12 classes" in compact.desc
