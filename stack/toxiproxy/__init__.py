"""Toxiproxy-compatible fault proxy: the embedded server and the picker of real vs embedded.

Use :func:`pick_server` to get the real ``toxiproxy-server`` when it is on PATH
and the embedded asyncio implementation otherwise; both speak the Toxiproxy
2.x HTTP API, so ``toxiproxy-python`` and raw HTTP work against either.
"""

from stack.toxiproxy.api import API_VERSION, VERSION, ToxiproxyApi
from stack.toxiproxy.collection import ProxyCollection, ProxySpec
from stack.toxiproxy.exceptions import ApiError, ServerNotRunning, ToxiproxyError
from stack.toxiproxy.picker import (
    ToxiproxyHandle,
    ToxiproxyProcess,
    pick_server,
    real_binary,
    toxiproxy_server,
)
from stack.toxiproxy.proxy import Proxy
from stack.toxiproxy.server import EmbeddedToxiproxy, ToxiproxyServer
from stack.toxiproxy.toxics import TOXIC_TYPES, Direction, Toxic

__all__ = [
    "API_VERSION",
    "TOXIC_TYPES",
    "VERSION",
    "ApiError",
    "Direction",
    "EmbeddedToxiproxy",
    "Proxy",
    "ProxyCollection",
    "ProxySpec",
    "ServerNotRunning",
    "Toxic",
    "ToxiproxyApi",
    "ToxiproxyError",
    "ToxiproxyHandle",
    "ToxiproxyProcess",
    "ToxiproxyServer",
    "pick_server",
    "real_binary",
    "toxiproxy_server",
]
