"""Server-drawn SVG charts (gateway/charts.py): well-formed, escaped, bounded, honest scales."""
from __future__ import annotations

import pytest
from lxml import etree

from gateway.charts import MAX_BARS, bar_chart, stacked_bar_chart

SVG = "{http://www.w3.org/2000/svg}"


def _parse(svg: str) -> etree._Element:
    return etree.fromstring(svg.encode())


def test_stacked_bars_are_as_tall_as_their_numbers():
    svg = _parse(stacked_bar_chart(["1.11", "2.11"], {"altinn3": [30, 10], "print": [10, 0]}, title="Brev per dag"))
    assert svg.get("role") == "img" and svg.findtext(f"{SVG}title") == "Brev per dag"
    heights = {r.findtext(f"{SVG}title"): float(r.get("height")) for r in svg.iter(f"{SVG}rect") if r.find(f"{SVG}title") is not None}
    assert heights["1.11: altinn3 30"] == pytest.approx(3 * heights["2.11: altinn3 10"])
    assert heights["1.11: print 10"] == pytest.approx(heights["2.11: altinn3 10"])
    assert "2.11: print 0" not in heights  # nothing drawn for zero
    ticks = [t.text for t in svg.iter(f"{SVG}text")][1:6]
    assert ticks == ["0", "10", "20", "30", "40"]  # four even steps up to 40 ≥ 30 + 10


def test_text_is_escaped_and_sizes_are_bounded():
    svg = stacked_bar_chart(["<b>&"], {"</svg><script>": [1]}, title='"x" & <y>')
    root = _parse(svg)  # well-formed: nothing broke out
    assert root.find(f".//{SVG}script") is None and "<script>" not in svg
    with pytest.raises(ValueError, match="at most"):
        stacked_bar_chart([str(i) for i in range(MAX_BARS + 1)], {}, title="t")
    with pytest.raises(ValueError, match="values for"):
        stacked_bar_chart(["a", "b"], {"s": [1]}, title="t")


def test_horizontal_bars_in_the_order_given_with_long_labels_cut():
    label = "Altinn avviste brevet: " + "x" * 80
    root = _parse(bar_chart([("ikke lest innen lesefristen", 40), (label, 10), ("ingen", 0)], title="Hvorfor utskrift"))
    bars = [float(r.get("width")) for r in root.iter(f"{SVG}rect")]
    assert bars[0] == pytest.approx(4 * bars[1]) and bars[2] == 0
    shown = [t for t in root.iter(f"{SVG}text") if t.find(f"{SVG}title") is not None]
    assert shown[1].text.endswith("…") and shown[1].findtext(f"{SVG}title") == label
    _parse(bar_chart([], title="ingenting"))
