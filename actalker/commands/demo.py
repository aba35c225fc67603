"""`actalker demo`: the main job on the embedded default (filled in by the lead)."""
from __future__ import annotations


def register(subparsers) -> None:
    parser = subparsers.add_parser("demo", help="Generate a talking-head video with the embedded default model.")
    parser.set_defaults(func=run)


def run(args) -> int:
    raise NotImplementedError("demo is being written")
