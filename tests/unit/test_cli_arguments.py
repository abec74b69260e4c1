"""NPNs typed on the command line are read as NIPR writes them (npnflow/arguments.py)."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from npnflow.arguments import NPN, NPNS, NpnList, NpnType, flat_npns
from npnflow.jit_cli import jit
from npnflow.offboard_cli import offboard
from npnflow.portal_cli import portal


@click.command()
@click.option("--npn", type=NPN)
@click.argument("npns", nargs=-1, type=NPNS)
def _echo(npn: str | None, npns: tuple[tuple[str, ...], ...]) -> None:
    click.echo(f"one={npn} all={','.join(flat_npns(npns))}")


def _run(*args: str):
    return CliRunner().invoke(_echo, list(args))


def test_leading_zeros_are_stripped_with_a_note_on_stderr() -> None:
    result = _run("--npn", "048905991", "007,48905991;0048905991", "12")
    assert result.exit_code == 0
    assert result.stdout == "one=48905991 all=7,48905991,12\n"
    assert result.stderr.splitlines() == [
        "NPN 048905991 read as 48905991",
        "NPN 007 read as 7",
        "NPN 0048905991 read as 48905991",
    ]


def test_a_canonical_npn_passes_silently() -> None:
    result = _run("--npn", " 48905991 ", "10000001")
    assert (result.exit_code, result.stdout, result.stderr) == (
        0,
        "one=48905991 all=10000001\n",
        "",
    )


@pytest.mark.parametrize(
    ("typed", "said"),
    [
        ("0000", "NPN '0000' is all zeros: NIPR numbers producers from 1"),
        ("00012345678901", "NPN '12345678901' has 11 digits without its leading zeros"),
        ("12-34", "NPN '12-34' is not an NPN: an NPN is digits only (0-9), up to 10"),
        ("123-45-6789", "NPN '***-**-6789' is not an NPN"),
    ],
)
def test_what_nipr_could_never_know_is_refused_saying_why(typed: str, said: str) -> None:
    result = _run(typed)
    assert result.exit_code == 2
    assert said in result.output
    assert "123-45" not in result.output


def _types(command: click.Command, *path: str) -> dict[str, click.ParamType]:
    for name in path:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    return {p.name or "": p.type for p in command.params}


def test_every_command_that_takes_npns_reads_them_through_the_shared_types() -> None:
    assert isinstance(_types(offboard)["npns"], NpnList)
    assert isinstance(_types(portal, "invite")["npns"], NpnList)
    for action in ("release", "cancel"):
        assert isinstance(_types(jit, action)["npn"], NpnType)


def test_a_jit_release_file_reads_its_npns_the_same_way(tmp_path, capsys) -> None:
    from npnflow.jit_cli import _file_requests

    released = tmp_path / "release.csv"
    released.write_text("NPN,State,CoCode\n0010000001,CA,91234\n10000002,TX,91234\n")
    requests = _file_requests(released, None)
    assert [r.npn for r in requests] == ["10000001", "10000002"]
    assert capsys.readouterr().err == "row 2: NPN 0010000001 read as 10000001\n"
    released.write_text("NPN,State,CoCode\n10000001,CA,91234\n000,TX,91234\n")
    with pytest.raises(click.BadParameter, match=r"row 3: NPN '000' is all zeros"):
        _file_requests(released, None)
