"""The cloud CLI's pure parts: what the supervisor passes its child, and port pinning."""

from __future__ import annotations

from dmsim.cli import build_parser
from dmsim.cloud.cli import _child_argv, _learn_port, _with_ports


def test_child_gets_the_same_options_without_the_supervisor_flag() -> None:
    args = build_parser().parse_args(
        ["cloud", "serve", "--data", "/d", "--http-port", "0", "--tls", "--api-key", "k",
         "--capacity-bytes", "100", "--restart-on-crash"]
    )  # fmt: skip
    child = _child_argv(args)
    assert "--restart-on-crash" not in child
    reparsed = build_parser().parse_args(child)
    for name in ("data", "host", "port", "http_port", "tls", "api_key", "capacity_bytes"):
        assert getattr(reparsed, name) == getattr(args, name), name
    assert not reparsed.restart_on_crash


def test_restarted_child_keeps_the_ports_the_first_one_bound() -> None:
    ports: dict[str, int] = {}
    for line in ("grpc: 127.0.0.1:4100\n", "http: http://127.0.0.1:4101/\n", "ready\n"):
        _learn_port(line, ports)
    assert ports == {"grpc": 4100, "http": 4101}
    argv = ["cloud", "serve", "--data", "/d", "--port", "0", "--http-port", "0"]
    args = build_parser().parse_args(_with_ports(argv, ports))
    assert (args.port, args.http_port) == (4100, 4101)
