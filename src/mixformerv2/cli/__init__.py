"""The ``mixformerv2`` command: one subcommand per module of this package (each module has ``register``)."""
from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from typing import List, Optional

# Subcommand modules, in the order `mixformerv2 --help` lists them.
COMMAND_MODULES = [
    "mixformerv2.cli.demo",
    "mixformerv2.cli.info",
    "mixformerv2.cli.track",
    "mixformerv2.cli.score",
    "mixformerv2.cli.evaluate",
    "mixformerv2.cli.compare",
    "mixformerv2.cli.app",
    "mixformerv2.cli.export",
    "mixformerv2.cli.bench",
    "mixformerv2.cli.train",
    "mixformerv2.cli.prune",
    "mixformerv2.cli.benchmark_train",
    "mixformerv2.cli.synthetic",
]


class UsageError(ValueError):
    """Bad command-line input; reported as one line with exit status 2."""


# What an interrupted command kept, and how to go on (formatted with the parsed arguments).
INTERRUPTED_HINTS = {
    "eval": "the sequences finished so far are in {args.results}; run the same command again to track the rest",
    "compare": "the sequences finished so far are in {args.results}; run the same command again to track the rest",
    "export": "nothing was written",
    "bench": "nothing was written",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mixformerv2", description="MixFormerV2 single-object tracker.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def _option_prefix(args, exc: BaseException) -> str:
    """'--json: ' when ``exc`` is a failed write of the file an option named, else ''."""
    from ..files import OutputWriteError

    requested = getattr(exc, "requested", None) if isinstance(exc, OutputWriteError) else None
    if requested is None:
        return ""
    for key, value in vars(args).items():
        values = value if isinstance(value, (list, tuple)) else [value]
        if any(v is not None and not isinstance(v, bool) and str(v) == str(requested) for v in values):
            return f"--{key.replace('_', '-')}: "
    return ""


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    # key=value overrides may come after options (argparse stops filling a '*' positional at the first option).
    if extra and hasattr(args, "overrides") and all("=" in e and not e.startswith("-") for e in extra):
        args.overrides = list(args.overrides or []) + extra
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        hint = getattr(args, "interrupted_hint", None) or INTERRUPTED_HINTS.get(args.command, "")
        print(f"mixformerv2 {args.command}: interrupted" + (f": {hint.format(args=args)}" if hint else ""),
              file=sys.stderr)
        return 130
    except (ValueError, OSError) as exc:  # includes CheckpointError and UsageError
        if os.environ.get("MIXFORMERV2_DEBUG"):
            raise
        print(f"mixformerv2 {args.command}: error: {_option_prefix(args, exc)}{exc}", file=sys.stderr)
        return 2
