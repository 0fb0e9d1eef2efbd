"""The `nablanet` command."""

from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nablanet",
        description="Neural networks on NumPy, with every derivative its own.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser(
        "autodiff",
        help="differentiate the notes' examples exp(x^2) and sqrt(x^2+exp(x^2)) by reverse and forward mode",
        description="Print value, reverse-mode, forward-mode and analytic derivatives and operation counts "
        "for the lecture notes' worked examples.",
    )
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command in (None, "autodiff"):
        from nablanet.demos.autodiff import report

        print(report())
        return 0
    parser.error(f"unknown command {args.command!r}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
