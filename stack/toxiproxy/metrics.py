"""``GET /metrics``: Prometheus text exposition, on when a metrics flag is given.

Toxiproxy 2.12 serves ``/metrics`` only with ``-proxy-metrics`` and/or
``-runtime-metrics`` (404 otherwise) and, like ``promhttp``, always adds
``promhttp_metric_handler_errors_total``:

* proxy metrics: ``toxiproxy_proxy_received_bytes_total`` and
  ``toxiproxy_proxy_sent_bytes_total``, counters labelled ``direction``,
  ``proxy``, ``listener`` and ``upstream``. Each link (one direction of a
  connection) adds its bytes when it ends: received when its source ends,
  sent when it has written everything and closed its destination;
* runtime metrics: Go's collectors in Toxiproxy, the Python process here under
  the same flag (``process_*`` with Go's names, ``python_info``, ``python_gc_*``).

Families are sorted by name and numbers printed like Go's ``strconv`` ``'g'``.
"""

from __future__ import annotations

import decimal
import gzip
import re
from dataclasses import dataclass

from prometheus_client import (
    CollectorRegistry,
    GCCollector,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8; escaping=underscores"
RECEIVED = "toxiproxy_proxy_received_bytes_total"
SENT = "toxiproxy_proxy_sent_bytes_total"
HANDLER_ERRORS = (
    "# HELP promhttp_metric_handler_errors_total"
    " Total number of internal errors encountered by the promhttp metric handler.\n"
    "# TYPE promhttp_metric_handler_errors_total counter\n"
    'promhttp_metric_handler_errors_total{cause="encoding"} 0\n'
    'promhttp_metric_handler_errors_total{cause="gathering"} 0\n'
)
_FAMILY_START = re.compile(r"(?m)^(?=# HELP )")


def go_float(value: float) -> str:
    """``value`` as Go's ``strconv.FormatFloat(value, 'g', -1, 64)`` prints it."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "0"
    sign, digits, exponent = decimal.Decimal(repr(float(value))).normalize().as_tuple()
    assert isinstance(exponent, int)
    text = "".join(map(str, digits))
    point = len(digits) + exponent - 1  # decimal exponent of the first digit
    if point < -4 or point >= 6:  # shortest form: exponent from 6 digits on, as in Go
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        number = f"{mantissa}e{'-' if point < 0 else '+'}{abs(point):02d}"
    else:
        number = format(decimal.Decimal(f"{text}E{exponent}"), "f")
    return ("-" if sign else "") + number


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


@dataclass(frozen=True)
class LinkLabels:
    """The labels of one link's byte counters, taken when the link starts."""

    direction: str
    proxy: str
    listener: str
    upstream: str

    def text(self) -> str:
        """``{...}`` with the labels sorted by name, as the Go client writes them."""
        pairs = (
            ("direction", self.direction),
            ("listener", self.listener),
            ("proxy", self.proxy),
            ("upstream", self.upstream),
        )
        return "{" + ",".join(f'{name}="{_label(value)}"' for name, value in pairs) + "}"


class ProxyMetrics:
    """Bytes received and sent per link labels (Toxiproxy's ``ProxyMetricCollectors``)."""

    def __init__(self) -> None:
        self.received: dict[LinkLabels, float] = {}
        self.sent: dict[LinkLabels, float] = {}

    def add_received(self, labels: LinkLabels, count: int) -> None:
        self.received[labels] = self.received.get(labels, 0.0) + count

    def add_sent(self, labels: LinkLabels, count: int) -> None:
        self.sent[labels] = self.sent.get(labels, 0.0) + count

    def families(self) -> dict[str, str]:
        """Exposition text per metric family; a family with no series is left out."""
        blocks: dict[str, str] = {}
        for name, series in ((RECEIVED, self.received), (SENT, self.sent)):
            if not series:
                continue
            lines = [f"# HELP {name} \n", f"# TYPE {name} counter\n"]
            samples = sorted((labels.text(), value) for labels, value in series.items())
            lines.extend(f"{name}{labels} {go_float(value)}\n" for labels, value in samples)
            blocks[name] = "".join(lines)
        return blocks


def _runtime_registry() -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=True)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry


class Metrics:
    """What ``/metrics`` shows: proxy and/or runtime metrics, or nothing (404)."""

    def __init__(self, proxy: bool = False, runtime: bool = False) -> None:
        self.proxy = ProxyMetrics() if proxy else None
        self.runtime = _runtime_registry() if runtime else None

    @property
    def enabled(self) -> bool:
        return self.proxy is not None or self.runtime is not None

    def exposition(self) -> bytes:
        blocks = {"promhttp_metric_handler_errors_total": HANDLER_ERRORS}
        if self.runtime is not None:
            text = generate_latest(self.runtime).decode()
            for block in _FAMILY_START.split(text):
                if block:
                    blocks[block.split(" ", 3)[2]] = block
        if self.proxy is not None:
            blocks.update(self.proxy.families())
        return "".join(blocks[name] for name in sorted(blocks)).encode()


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether ``promhttp`` would gzip: ``gzip`` or ``*`` accepted with a weight above 0."""
    for part in accept_encoding.split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip().lower() not in ("gzip", "*"):
            continue
        weight = 1.0
        name, _, value = params.strip().partition("=")
        if name.strip().lower() == "q":
            try:
                weight = float(value)
            except ValueError:
                weight = 0.0
        if weight > 0:
            return True
    return False


def compress(body: bytes) -> bytes:
    return gzip.compress(body)
