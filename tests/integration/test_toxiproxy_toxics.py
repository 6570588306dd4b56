"""Each toxic's effect on real TCP traffic, through every server kind.

Tolerances are generous on purpose (shared, noisy 2-core machines): a toxic
must show an effect far outside what the clean path does, not hit a number.
"""

from __future__ import annotations

import socket
import threading
import time

import pytest

# Rewrite the support module's asserts too: register it before it is imported.
pytest.register_assert_rewrite("tests.integration.toxiproxy_support")
from tests.integration.toxiproxy_support import (  # noqa: E402 - imported after register_assert_rewrite on purpose
    ServerUnderTest,
    Upstream,
    connect,
    recv_exactly,
    recv_until_closed,
    round_trip,
    wait_until,
)

pytestmark = pytest.mark.integration
# The server/upstream fixtures, parametrized over every server kind.
pytest_plugins = ["tests.integration.toxiproxy_support"]


def _median_rtt(sock: socket.socket, rounds: int = 3) -> float:
    times = sorted(round_trip(sock) for _ in range(rounds))
    return times[len(times) // 2]


def test_latency_downstream_adds_delay(toxiproxy: ServerUnderTest, echo_upstream: Upstream) -> None:
    port = toxiproxy.create_proxy("echo", echo_upstream.port)
    with connect(port) as sock:
        base = _median_rtt(sock)
    toxiproxy.add_toxic("echo", "latency", {"latency": 200})
    with connect(port) as sock:
        added = _median_rtt(sock) - base
    assert 0.150 <= added <= 0.600, f"added {added * 1000:.0f} ms for a 200 ms latency toxic"


def test_latency_upstream_and_downstream_accumulate(
    toxiproxy: ServerUnderTest, echo_upstream: Upstream
) -> None:
    port = toxiproxy.create_proxy("echo", echo_upstream.port)
    toxiproxy.add_toxic("echo", "latency", {"latency": 150}, stream="upstream")
    toxiproxy.add_toxic("echo", "latency", {"latency": 150, "jitter": 20})
    with connect(port) as sock:
        rtt = round_trip(sock)
    assert 0.250 <= rtt <= 0.900, f"round trip {rtt * 1000:.0f} ms with 150 ms each way"


def test_toxicity_zero_and_one(toxiproxy: ServerUnderTest, echo_upstream: Upstream) -> None:
    port = toxiproxy.create_proxy("echo", echo_upstream.port)
    toxiproxy.add_toxic("echo", "latency", {"latency": 300}, toxicity=0.0)
    for _ in range(3):
        with connect(port) as sock:
            assert round_trip(sock) < 0.150, "toxicity 0 must never apply the toxic"
    toxiproxy.http.patch("/proxies/echo/toxics/latency_downstream", json={"toxicity": 1.0})
    for _ in range(2):
        with connect(port) as sock:
            assert round_trip(sock) >= 0.250, "toxicity 1 must always apply the toxic"


def test_bandwidth_limits_rate(toxiproxy: ServerUnderTest, source_upstream: Upstream) -> None:
    port = toxiproxy.create_proxy("source", source_upstream.port)
    with connect(port) as sock:  # clean path: 200 KB is instant
        started = time.perf_counter()
        sock.sendall(b"200000\n")
        data, _ = recv_until_closed(sock)
        clean = time.perf_counter() - started
    assert len(data) == 200_000
    toxiproxy.add_toxic("source", "bandwidth", {"rate": 200})  # KB/s: 1 s for 200 KB
    with connect(port, timeout=10) as sock:
        started = time.perf_counter()
        sock.sendall(b"200000\n")
        data, _ = recv_until_closed(sock)
        limited = time.perf_counter() - started
    assert len(data) == 200_000
    rate_kbs = 200_000 / limited / 1000
    assert 100 <= rate_kbs <= 300, f"measured {rate_kbs:.0f} KB/s for a 200 KB/s toxic"
    assert limited > clean * 3


def test_slow_close_delays_the_close(toxiproxy: ServerUnderTest, source_upstream: Upstream) -> None:
    port = toxiproxy.create_proxy("source", source_upstream.port)
    toxiproxy.add_toxic("source", "slow_close", {"delay": 400})
    with connect(port) as sock:
        sock.sendall(b"10\n")
        assert recv_exactly(sock, 10) == b"x" * 10
        started = time.perf_counter()
        assert sock.recv(10) == b""
        delayed = time.perf_counter() - started
    assert 0.300 <= delayed <= 2.0, f"close after {delayed * 1000:.0f} ms for a 400 ms slow_close"


def test_timeout_drops_data_then_closes(
    toxiproxy: ServerUnderTest, echo_upstream: Upstream
) -> None:
    port = toxiproxy.create_proxy("echo", echo_upstream.port)
    toxiproxy.add_toxic("echo", "timeout", {"timeout": 300})
    with connect(port) as sock:
        started = time.perf_counter()
        sock.sendall(b"hello")
        data, _ = recv_until_closed(sock)
        closed_after = time.perf_counter() - started
    assert data == b"", "a timeout toxic drops all data"
    assert 0.200 <= closed_after <= 3.0, f"closed after {closed_after * 1000:.0f} ms"


def test_timeout_zero_holds_until_removed(
    toxiproxy: ServerUnderTest, echo_upstream: Upstream
) -> None:
    port = toxiproxy.create_proxy("echo", echo_upstream.port)
    toxiproxy.add_toxic("echo", "timeout", {"timeout": 0}, stream="upstream")
    with connect(port, timeout=0.7) as sock:
        sock.sendall(b"hello")
        with pytest.raises(TimeoutError):
            sock.recv(10)  # held, not answered, not closed
        toxiproxy.remove_toxic("echo", "timeout_upstream")
        sock.settimeout(5)
        # Toxiproxy's TimeoutToxic.Cleanup closes the connection on removal.
        assert recv_until_closed(sock)[0] == b""


def test_reset_peer_resets_connection(toxiproxy: ServerUnderTest, echo_upstream: Upstream) -> None:
    port = toxiproxy.create_proxy("echo", echo_upstream.port)
    toxiproxy.add_toxic("echo", "reset_peer", {"timeout": 0})
    with connect(port) as sock:
        sock.sendall(b"hello")
        with pytest.raises(ConnectionResetError):
            recv_until_closed(sock)


def test_reset_peer_waits_its_timeout(toxiproxy: ServerUnderTest, echo_upstream: Upstream) -> None:
    port = toxiproxy.create_proxy("echo", echo_upstream.port)
    toxiproxy.add_toxic("echo", "reset_peer", {"timeout": 300}, stream="upstream")
    with connect(port) as sock:
        started = time.perf_counter()
        sock.sendall(b"hello")
        with pytest.raises(ConnectionResetError):
            recv_until_closed(sock)
        after = time.perf_counter() - started
    assert 0.200 <= after <= 3.0, f"reset after {after * 1000:.0f} ms for a 300 ms timeout"


def test_slicer_slices_data(toxiproxy: ServerUnderTest, source_upstream: Upstream) -> None:
    port = toxiproxy.create_proxy("source", source_upstream.port)
    with connect(port) as sock:
        sock.sendall(b"2000\n")
        whole, clean_reads = recv_until_closed(sock)
    toxiproxy.add_toxic(
        "source", "slicer", {"average_size": 20, "size_variation": 5, "delay": 2000}
    )
    with connect(port) as sock:
        sock.sendall(b"2000\n")
        sliced, reads = recv_until_closed(sock)
    assert sliced == whole == b"x" * 2000
    assert reads >= 20, f"{reads} reads of sliced data (clean path: {clean_reads})"


def test_limit_data_closes_after_bytes(toxiproxy: ServerUnderTest, echo_upstream: Upstream) -> None:
    port = toxiproxy.create_proxy("echo", echo_upstream.port)
    toxiproxy.add_toxic("echo", "limit_data", {"bytes": 100})
    with connect(port) as sock:
        sock.sendall(b"a" * 60)
        assert recv_exactly(sock, 60) == b"a" * 60
        sock.sendall(b"b" * 100)
        data, _ = recv_until_closed(sock)
    assert data == b"b" * 40, "exactly 100 bytes in total, then the connection closes"


def test_disable_closes_connections_and_stops_listening(
    toxiproxy: ServerUnderTest, echo_upstream: Upstream
) -> None:
    port = toxiproxy.create_proxy("echo", echo_upstream.port)
    with connect(port) as sock:
        round_trip(sock)
        toxiproxy.http.patch("/proxies/echo", json={"enabled": False})
        try:
            data = sock.recv(10)
        except ConnectionResetError:
            data = b""
        assert data == b"", "open connections are closed when the proxy is disabled"
    with pytest.raises(ConnectionRefusedError):
        connect(port)
    toxiproxy.http.patch("/proxies/echo", json={"enabled": True})
    with connect(port) as sock:
        assert round_trip(sock) < 1.0


def test_reset_restores_clean_path(toxiproxy: ServerUnderTest, echo_upstream: Upstream) -> None:
    port = toxiproxy.create_proxy("echo", echo_upstream.port)
    toxiproxy.add_toxic("echo", "latency", {"latency": 500})
    with connect(port) as sock:
        assert round_trip(sock) >= 0.400
        assert toxiproxy.http.post("/reset").status_code == 204
        assert round_trip(sock) < 0.300, "reset removes toxics from open connections too"


def test_toxic_added_to_open_connection(
    toxiproxy: ServerUnderTest, echo_upstream: Upstream
) -> None:
    port = toxiproxy.create_proxy("echo", echo_upstream.port)
    with connect(port) as sock:
        assert _median_rtt(sock) < 0.100
        toxiproxy.add_toxic("echo", "latency", {"latency": 250})
        assert round_trip(sock) >= 0.200, "a new toxic applies to an already open connection"
        toxiproxy.remove_toxic("echo", "latency_downstream")
        assert _median_rtt(sock) < 0.100, "and removing it brings back the clean path"


def test_no_bytes_lost_or_reordered_across_toxic_changes(
    toxiproxy: ServerUnderTest, echo_upstream: Upstream
) -> None:
    """Stream numbered bytes while toxics come and go on both directions."""
    port = toxiproxy.create_proxy("echo", echo_upstream.port)
    payload = bytes(i % 251 for i in range(3_000_000))
    received = bytearray()
    with connect(port, timeout=20) as sock:

        def reader() -> None:
            while len(received) < len(payload):
                piece = sock.recv(65536)
                if not piece:
                    return
                received.extend(piece)

        thread = threading.Thread(target=reader, daemon=True)
        thread.start()

        def writer() -> None:
            for offset in range(0, len(payload), 30_000):
                sock.sendall(payload[offset : offset + 30_000])
                time.sleep(0.002)

        sender = threading.Thread(target=writer, daemon=True)
        sender.start()
        for _ in range(3):
            toxiproxy.add_toxic("echo", "latency", {"latency": 5}, stream="upstream", name="up")
            toxiproxy.add_toxic("echo", "slicer", {"average_size": 5000, "delay": 10}, name="sl")
            toxiproxy.add_toxic("echo", "latency", {"latency": 3}, name="down")
            time.sleep(0.05)
            toxiproxy.remove_toxic("echo", "sl")
            time.sleep(0.02)
            toxiproxy.remove_toxic("echo", "up")
            toxiproxy.remove_toxic("echo", "down")
        sender.join(20)
        thread.join(20)
    assert len(received) == len(payload)
    assert bytes(received) == payload


def test_new_connection_gets_existing_toxics(
    toxiproxy: ServerUnderTest, echo_upstream: Upstream
) -> None:
    port = toxiproxy.create_proxy("echo", echo_upstream.port)
    toxiproxy.add_toxic("echo", "latency", {"latency": 200}, stream="upstream")
    accepted = echo_upstream.accepted
    with connect(port) as sock:
        assert round_trip(sock) >= 0.150
    assert wait_until(lambda: echo_upstream.accepted > accepted)
