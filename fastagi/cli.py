"""The `did-failover` command line: serve, and the management commands over the service layer."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from fastagi import __version__


def build_parser() -> argparse.ArgumentParser:
    """Build the whole command tree."""
    parser = argparse.ArgumentParser(prog="did-failover", description=__doc__)
    parser.add_argument("--version", action="version", version=f"did-failover {__version__}")
    parser.add_argument("--config", type=Path, help="TOML settings file (environment wins)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = sub.add_parser("serve", help="run the FastAGI server")
    serve.set_defaults(func=_cmd_serve)
    from fastagi import manage

    manage.register(sub)
    return parser


def _cmd_serve(args: argparse.Namespace) -> int:
    from fastagi.server import run

    return run(args.config)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
