"""Ports for the servers tests and benchmarks start: several at once must be distinct.

A landing CI failed because two ``free_port()`` calls returned one port: HAProxy bound its stats
front and the public front there (``SO_REUSEPORT``), and a request for a forbidden path reached
the stats front, which answered 503 instead of the public front's 404."""

from __future__ import annotations

import socket

from tools.procs import free_port, free_ports


def test_ports_asked_for_together_are_distinct() -> None:
    for _ in range(200):
        ports = free_ports(5)
        assert len(set(ports)) == 5


def test_ports_already_chosen_are_never_handed_out_again() -> None:
    chosen = free_ports(50)
    for _ in range(20):
        assert not set(free_ports(5, taken=chosen)) & set(chosen)


def test_a_free_port_can_be_bound() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", free_port()))
