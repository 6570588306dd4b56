"""What a rendered timeline actually drew: plotted points per panel.

The timeline tags every axes ``panel-<name>`` and every data artist
``series-<name>`` (see :mod:`scenarios.report.timeline`). :func:`plotted_points`
counts, per panel, the vertices of the series' paths and the markers placed
with ``<use>``; a panel with zero points is an empty plot, which the timeline
never draws on purpose. Works on an SVG or on a whole HTML page (every inline
``<svg>`` in it), so the unit tests and the browser check share it.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

_SVG = re.compile(r"<svg\b.*?</svg>", re.DOTALL)
_COORDS = re.compile(r"-?\d+(?:\.\d+)?(?:e-?\d+)?")
_NAMESPACE = re.compile(r"^\{[^}]*\}")


def _local(tag: str) -> str:
    return _NAMESPACE.sub("", tag)


def _count(group: ET.Element) -> int:
    points = 0
    for element in group.iter():
        tag = _local(element.tag)
        if tag == "use":
            points += 1
        elif tag == "path":
            points += len(_COORDS.findall(element.get("d", ""))) // 2
    return points


def plotted_points(document: str) -> dict[str, int]:
    """``{panel name: plotted points}`` for every timeline panel in ``document``."""
    counts: dict[str, int] = {}
    for match in _SVG.finditer(document):
        # our own matplotlib output, not untrusted XML
        root = ET.fromstring(match.group(0).replace(" xlink:href=", " href="))  # noqa: S314 - see above
        for group in root.iter():
            gid = group.get("id", "")
            if _local(group.tag) != "g" or not gid.startswith("panel-"):
                continue
            counts[gid.removeprefix("panel-")] = sum(
                _count(series)
                for series in group.iter()
                if _local(series.tag) == "g" and series.get("id", "").startswith("series-")
            )
    return counts


def empty_panels(document: str) -> list[str]:
    """Panels of ``document`` on which nothing was plotted."""
    return [name for name, points in plotted_points(document).items() if points == 0]


__all__ = ["empty_panels", "plotted_points"]
