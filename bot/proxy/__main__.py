"""``python -m bot.proxy``: run the reverse proxy.

Options may also come from the environment (for containers): ``PROXY_LISTEN``,
``PROXY_UPSTREAMS`` (comma-separated URLs), ``PROXY_HEALTH_PATH``, ``PROXY_NAME``.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from aiohttp import web

from bot.proxy.app import ProxyOptions, create_app


def _listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, not {value!r}")
    return host or "127.0.0.1", int(port)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    env = os.environ
    parser = argparse.ArgumentParser(prog="python -m bot.proxy", description=__doc__)
    parser.add_argument("--listen", type=_listen, default=env.get("PROXY_LISTEN"),
                        help="HOST:PORT to listen on (PROXY_LISTEN)")
    parser.add_argument("--upstream", action="append", default=None,
                        help="an upstream base URL; repeat for each (PROXY_UPSTREAMS)")
    parser.add_argument("--health-path", default=env.get("PROXY_HEALTH_PATH", "/health"),
                        help="path (and query) checked on every upstream, 2xx = healthy; "
                             "${VAR} is replaced by the environment's value (a token stays "
                             "off the command line)")
    parser.add_argument("--name", default=env.get("PROXY_NAME", "proxy"), help="name in logs")
    parser.add_argument("--public-path", action="append", default=None,
                        help="forward only this exact path (repeat for each; PROXY_PUBLIC_PATHS, "
                             "comma-separated); every other path gets 404")
    parser.add_argument("--health-interval", type=float, default=1.0)
    parser.add_argument("--health-timeout", type=float, default=5.0)
    parser.add_argument("--fall", type=int, default=3,
                        help="failed checks in a row that take an upstream out")
    parser.add_argument("--connect-timeout", type=float, default=2.0)
    parser.add_argument("--read-timeout", type=float, default=300.0)
    args = parser.parse_args(argv)
    if isinstance(args.listen, str):
        args.listen = _listen(args.listen)
    if args.listen is None:
        parser.error("--listen HOST:PORT (or PROXY_LISTEN) is required")
    if not args.upstream:
        args.upstream = [u.strip() for u in env.get("PROXY_UPSTREAMS", "").split(",") if u.strip()]
    if not args.upstream:
        parser.error("at least one --upstream URL (or PROXY_UPSTREAMS) is required")
    if not args.public_path:
        args.public_path = [p.strip() for p in env.get("PROXY_PUBLIC_PATHS", "").split(",")
                            if p.strip()]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from bot.observability import logs

    logs.configure(args.name)  # LOG_FORMAT / LOG_LEVEL, like every other process
    options = ProxyOptions(
        health_path=os.path.expandvars(args.health_path),
        health_interval=args.health_interval,
        health_timeout=args.health_timeout,
        fall=args.fall,
        connect_timeout=args.connect_timeout,
        read_timeout=args.read_timeout,
        name=args.name,
        public_paths=frozenset(args.public_path),
    )
    host, port = args.listen
    logging.getLogger(__name__).info(
        "%s listening on %s:%d, upstreams %s", args.name, host, port, ", ".join(args.upstream)
    )
    web.run_app(create_app(args.upstream, options), host=host, port=port, print=None,
                access_log=None, shutdown_timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
