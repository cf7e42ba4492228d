"""The `did-failover` command line: serve, and the management commands over the service layer."""

from __future__ import annotations

import argparse
import difflib
import sys
from collections.abc import Sequence
from pathlib import Path

from did_failover import __version__


def build_parser() -> argparse.ArgumentParser:
    """Build the whole command tree."""
    parser = argparse.ArgumentParser(prog="did-failover", description=__doc__)
    parser.add_argument("--version", action="version", version=f"did-failover {__version__}")
    parser.add_argument("--config", type=Path, help="TOML settings file (environment wins)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = sub.add_parser("serve", help="run the FastAGI server")
    serve.set_defaults(func=_cmd_serve)
    web = sub.add_parser("web", help="serve the web page (DID_FAILOVER_WEB_LISTEN, default 127.0.0.1:8573)")
    web.set_defaults(func=_cmd_web)
    check = sub.add_parser("check", help="check settings, database, AMI and the running server")
    check.set_defaults(func=_cmd_check)
    _add_simulate(sub)
    from did_failover.cli import parsers

    parsers.register(sub)
    return parser


def _cmd_serve(args: argparse.Namespace) -> int:
    from did_failover.runtime.daemon import run

    return run(args.config)


def _cmd_web(args: argparse.Namespace) -> int:
    from did_failover.web.server import run

    return run(args.config)


def _cmd_check(args: argparse.Namespace) -> int:
    from did_failover.tools.check import run

    return run(args.config)


def _add_simulate(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from did_failover.tools.simulate import STATUSES

    simulate = sub.add_parser(
        "simulate",
        help="play a call to a DID against a fake Asterisk: what would be dialled and set",
        description="Play a call to DID through the routing handler with the configured database, "
        "against an in-process fake Asterisk. Exit 0 when routed, 2 for an unknown DID, 1 on error.",
    )
    simulate.add_argument("did", metavar="DID")
    simulate.add_argument(
        "--primary-status",
        default="ANSWER",
        choices=STATUSES,
        help="DIALSTATUS of the primary (default ANSWER)",
    )
    simulate.add_argument("--primary-cause", type=int, metavar="N", help="HANGUPCAUSE of the primary")
    simulate.add_argument(
        "--transfer-status",
        default="ANSWER",
        metavar="STATUS[,STATUS...]",
        help=f"DIALSTATUS of each transfer leg in turn, the last repeating ({', '.join(STATUSES)};"
        " default ANSWER)",
    )
    simulate.add_argument(
        "--at",
        metavar="'YYYY-MM-DD HH:MM'",
        help="when the call happens, in the DID's business-hours time zone (default: now)",
    )
    simulate.add_argument(
        "--caller", default="15551110000", metavar="NUMBER", help="the caller's number (default 15551110000)"
    )
    simulate.set_defaults(func=_cmd_simulate)


def _cmd_simulate(args: argparse.Namespace) -> int:
    from did_failover.tools.simulate import run

    return run(
        args.config,
        args.did,
        args.primary_status,
        caller=args.caller,
        primary_cause=args.primary_cause,
        transfer_status=args.transfer_status,
        at=args.at,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    parser = build_parser()
    words = list(sys.argv[1:] if argv is None else argv)
    args, extras = parser.parse_known_args(words)
    if extras:
        leaf = _leaf_of(parser, words)
        leaf.error(_unrecognized(leaf, extras))
    code: int = args.func(args)
    return code


def _leaf_of(parser: argparse.ArgumentParser, words: list[str]) -> argparse.ArgumentParser:
    """The (sub)command parser `words` reach: its usage is the one to show for a mistyped option."""
    current = parser
    for word in words:
        found = [a for a in current._actions if isinstance(a, argparse._SubParsersAction)]
        chosen = found[0].choices.get(word) if found else None
        if chosen is not None:
            current = chosen
    return current


def _unrecognized(leaf: argparse.ArgumentParser, extras: list[str]) -> str:
    """argparse's message for unknown arguments, with the closest option of the command."""
    message = f"unrecognized arguments: {' '.join(extras)}"
    options = [option for action in leaf._actions for option in action.option_strings]
    for extra in extras:
        if extra.startswith("--"):
            close = difflib.get_close_matches(extra.partition("=")[0], options, n=1)
            if close:
                return f"{message} (did you mean {close[0]}?)"
    return message


if __name__ == "__main__":
    sys.exit(main())
