"""The ``actalker`` command line: one module per subcommand under ``actalker/commands``.

Each command module defines ``register(subparsers)`` which adds its parser and sets
``func`` to a callable taking the parsed ``args``. User errors (``ActalkerError``) are
printed as one line and exit with status 2; so are OSErrors from writing an output (no
space, read-only, permission, a path under a file) that no lower layer named.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from actalker import __version__
from actalker.errors import ActalkerError

# Order here is the order in `actalker --help`.
COMMAND_MODULES = (
    "demo",
    "generate",
    "app",
    "plugins",
    "synth",
    "preprocess",
    "train",
    "train_vae",
    "data",
    "eval",
    "sweep",
    "export",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="actalker",
        description="Multi-signal talking-head video diffusion (ACTalker, re-implemented).",
    )
    parser.add_argument("--version", action="version", version=f"actalker {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"actalker.commands.{name}").register(sub)
    return parser


def broken_plugins_note() -> str:
    """"; broken plugin(s): ..." when an installed plugin failed to load (a flag it would
    add is then unrecognized), else ""."""
    try:
        from actalker.plugins import load_registry

        broken = load_registry().broken
    except Exception:  # noqa: BLE001 -- only a hint on an error path
        return ""
    return "".join(f"; plugin '{b.name}' is broken: {b.reason}" for b in broken)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}{broken_plugins_note()}")
    if not getattr(args, "func", None):
        parser.print_help()
        return 1
    return run_reporting_errors(lambda: args.func(args))


def run_reporting_errors(call) -> int:
    """``call()``'s exit status; a user error or an output OSError becomes one ``error:``
    line on stderr and status 2, Ctrl-C status 130 (also for ``python -m`` tools)."""
    try:
        result = call()
    except ActalkerError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        from actalker.utils.paths import NO_SPACE_ERRNOS, is_write_error, output_error

        if not is_write_error(err):
            raise  # a bug or an unexpected fault: keep the traceback
        if err.errno in NO_SPACE_ERRNOS:
            print(f"error: {output_error(err, err.filename or 'an output file')}", file=sys.stderr)
        else:  # EACCES may come from reading too: say what happened, not "could not write"
            print(f"error: {err.filename or 'a file'}: {err.strerror or err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
