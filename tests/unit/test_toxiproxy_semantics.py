"""Go library rules the embedded Toxiproxy follows: JSON fields, addresses, numbers."""

from __future__ import annotations

import pytest

from stack.toxiproxy.address import AddressError, lookup_port, resolved_address, split_host_port
from stack.toxiproxy.exceptions import ApiError
from stack.toxiproxy.gojson import decode_json, fold_equal, struct_fields
from stack.toxiproxy.metrics import LinkLabels, ProxyMetrics, accepts_gzip, go_float
from stack.toxiproxy.toxics import Noop, Toxic, decode_new_toxic


def test_fold_equal_is_go_equal_fold_for_ascii_names() -> None:
    assert fold_equal("NaMe", "name")
    assert fold_equal("\u017ftream", "stream"), "long s folds to s"
    assert fold_equal("\u212a", "k"), "Kelvin sign folds to k"
    assert not fold_equal("\u0131", "i"), "dotless i is no i under simple folding"
    assert not fold_equal("\u0130", "i")
    assert not fold_equal("names", "name")
    assert not fold_equal("AVERAGESIZE", "average_size")


def test_struct_fields_follow_document_order() -> None:
    names = ("name", "enabled")
    assert struct_fields(None, "T", names) == {}
    assert struct_fields(decode_json(b'{"Name": 1, "name": "a"}'), "T", names) == {"name": "a"}
    assert struct_fields(decode_json(b'{"name": "a", "NAME": "b"}'), "T", names) == {"name": "b"}
    assert struct_fields(decode_json(b'{"name": "a", "name": null}'), "T", names) == {"name": "a"}
    pointer = decode_json(b'{"enabled": false, "Enabled": null}')
    assert struct_fields(pointer, "T", names, pointers=("enabled",)) == {}
    assert struct_fields(decode_json(b'{"other": 1}'), "T", names) == {}
    with pytest.raises(ApiError, match="cannot unmarshal array into Go value of type T"):
        struct_fields([], "T", names)


def test_noop_is_a_toxic_type() -> None:
    toxic = decode_new_toxic(b'{"type": "noop", "attributes": {"x": 1}}', lambda _: False)
    assert toxic == Toxic("noop_downstream", "noop", "downstream", 1.0, Noop())
    assert toxic.to_json()["attributes"] == {}


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("localhost", "address localhost: missing port in address"),
        ("::1:80", "address ::1:80: too many colons in address"),
        ("[::1]80", "address [::1]80: missing port in address"),
        ("[::1", "address [::1: missing ']' in address"),
        ("[::1]:1:2", "address [::1]:1:2: too many colons in address"),
        ("a[b:1", "address a[b:1: unexpected '[' in address"),
        ("a]b:1", "address a]b:1: unexpected ']' in address"),
    ],
)
def test_split_host_port_errors_are_go_errors(address: str, message: str) -> None:
    with pytest.raises(AddressError) as raised:
        split_host_port(address)
    assert str(raised.value) == message


def test_lookup_port() -> None:
    assert lookup_port("") == 0
    assert lookup_port("+80") == 80
    assert lookup_port("http") == 80
    for service, message in [
        ("99999", "address 99999: invalid port"),
        ("-1", "address -1: invalid port"),
        ("no-such-service", "lookup tcp/no-such-service: unknown port"),
    ]:
        with pytest.raises(AddressError) as raised:
            lookup_port(service)
        assert str(raised.value) == message


@pytest.mark.parametrize(
    ("address", "resolved"),
    [
        ("localhost:80", "127.0.0.1:80"),
        ("127.0.0.1:http", "127.0.0.1:80"),
        ("[::ffff:127.0.0.1]:1", "127.0.0.1:1"),
        ("[::1]:3", "[::1]:3"),
        (":5", ":5"),
        ("", ":0"),
    ],
)
async def test_resolved_address_prints_like_tcp_addr(address: str, resolved: str) -> None:
    assert await resolved_address(address) == resolved


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "0"),
        (1000, "1000"),
        (123456, "123456"),
        (1234567, "1.234567e+06"),
        (1e6, "1e+06"),
        (0.12, "0.12"),
        (0.0001, "0.0001"),
        (1.5e-05, "1.5e-05"),
        (-2.5, "-2.5"),
    ],
)
def test_go_float(value: float, text: str) -> None:
    assert go_float(value) == text


def test_accepts_gzip() -> None:
    assert accepts_gzip("gzip, deflate")
    assert accepts_gzip("*")
    assert not accepts_gzip("identity")
    assert not accepts_gzip("gzip;q=0")
    assert not accepts_gzip("")


def test_proxy_metrics_families() -> None:
    metrics = ProxyMetrics()
    assert metrics.families() == {}
    labels = LinkLabels("upstream", "db", "127.0.0.1:1", 'up"stream')
    metrics.add_received(labels, 0)
    metrics.add_received(labels, 5)
    name = "toxiproxy_proxy_received_bytes_total"
    assert metrics.families() == {
        name: (
            f"# HELP {name} \n# TYPE {name} counter\n"
            f'{name}{{direction="upstream",listener="127.0.0.1:1",proxy="db",'
            'upstream="up\\"stream"} 5\n'
        )
    }
