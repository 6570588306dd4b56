"""Running ``promtool test rules``, and reading what it computed from its report.

A failed alert check prints what promtool expected and what it got::

    alertname: DatabasePoolWaiters, time: 1m25s,
        exp:[ ... ],
        got:[
            0:
              Labels:{alertname="DatabasePoolWaiters", instance="127.0.0.1:43547", ...}
              Annotations:{description="...", summary="16 callers waiting ..."}
            ]

Label values are Go-quoted (``strconv.Quote``): :func:`parse_labels` reads them.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import promql_parser as pp

from scenarios.export.exceptions import ExportFailed

PROMTOOL_TIMEOUT_S = 120.0
_FAILED = re.compile(
    r"alertname: (?P<name>\S+), time: (?P<time>\S+), \n"
    r"\s+exp:\[(?P<exp>.*?)\], \n\s+got:\[(?P<got>.*?)\]\n",
    re.DOTALL,
)
_ITEM = re.compile(r"Labels:\{(?P<labels>.*)\}\n\s*Annotations:\{(?P<annotations>.*)\}")
#: An alert promtool computed: its labels and its annotations.
Computed = tuple[dict[str, str], dict[str, str]]


def promtool_binary() -> str:
    binary = shutil.which("promtool")
    if binary is None:
        raise ExportFailed("promtool is not on PATH (Debian package `prometheus`)")
    return binary


def run_promtool(test_file: Path, *more: Path) -> subprocess.CompletedProcess[str]:
    """``promtool test rules`` on one or more test files of one folder, run from that folder."""
    return subprocess.run(
        [promtool_binary(), "test", "rules", test_file.name, *(path.name for path in more)],
        cwd=test_file.parent,
        capture_output=True,
        text=True,
        check=False,
        timeout=PROMTOOL_TIMEOUT_S,
    )


def check_key(alertname: str, seconds: float) -> tuple[str, float]:
    return alertname, round(seconds, 3)


def _unquote(text: str, start: int) -> tuple[str, int]:
    """A Go double-quoted string starting at ``text[start]``; the value and the end."""
    assert text[start] == '"'
    out: list[str] = []
    index = start + 1
    simple = {"n": "\n", "t": "\t", "r": "\r", "a": "\a", "b": "\b", "f": "\f", "v": "\v"}
    raw = bytearray()

    def flush() -> None:
        if raw:
            out.append(raw.decode("utf-8", "replace"))
            raw.clear()

    while text[index] != '"':
        char = text[index]
        if char != "\\":
            flush()
            out.append(char)
            index += 1
            continue
        code = text[index + 1]
        if code == "x":
            raw.append(int(text[index + 2 : index + 4], 16))
            index += 4
            continue
        flush()
        if code in "uU":
            width = 4 if code == "u" else 8
            out.append(chr(int(text[index + 2 : index + 2 + width], 16)))
            index += 2 + width
        else:
            out.append(simple.get(code, code))
            index += 2
    flush()
    return "".join(out), index + 1


def parse_labels(text: str) -> dict[str, str]:
    """``name="value", ...`` as promtool prints a label set (Go-quoted values)."""
    labels: dict[str, str] = {}
    index = 0
    while index < len(text):
        equals = text.index("=", index)
        name = text[index:equals].strip(" ,")
        value, index = _unquote(text, equals + 1)
        labels[name] = value
        while index < len(text) and text[index] in ", ":
            index += 1
    return labels


def computed_alerts(
    output: str,
) -> dict[tuple[str, float], list[tuple[dict[str, str], dict[str, str]]]]:
    """Each failed alert check of promtool's report: what it computed (labels, annotations)."""
    found: dict[tuple[str, float], list[tuple[dict[str, str], dict[str, str]]]] = {}
    for failure in _FAILED.finditer(output):
        seconds = pp.parse_duration(failure["time"]).total_seconds()
        found[check_key(failure["name"], seconds)] = [
            (parse_labels(item["labels"]), parse_labels(item["annotations"]))
            for item in _ITEM.finditer(failure["got"])
        ]
    return found


__all__ = ["Computed", "check_key", "computed_alerts", "parse_labels", "run_promtool"]
