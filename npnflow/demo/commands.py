"""The user's own `npnflow` commands, run inside the demo's process: what is printed is what a
person typing them sees."""

from __future__ import annotations

import click


def run_command(command: click.Command, name: str, args: list[str]) -> int:
    """`npnflow NAME ARGS` as a person types it; its exit status."""
    click.echo(f"\n   $ npnflow {name} {' '.join(args)}")
    try:
        result = command.main(args=args, prog_name=f"npnflow {name}", standalone_mode=False)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    return int(result or 0)
