"""The ``bricobot`` entry point: help lists commands, every command has working --help."""

from __future__ import annotations

import pytest

from bricobot.cli.dataset import SUBCOMMANDS
from bricobot.cli.main import COMMANDS, main


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert name in out


def test_unknown_command_fails_with_the_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fly"]) == 2
    err = capsys.readouterr().err
    assert "unknown command 'fly'" in err and "demo" in err


HYDRA_COMMANDS = [[name] for name in COMMANDS if name != "dataset"]
DATASET_COMMANDS = [["dataset", sub] for sub in SUBCOMMANDS]


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_command_has_help(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([name, "--help"]) == 0
    assert f"bricobot {name}" in capsys.readouterr().out


@pytest.mark.parametrize("command", HYDRA_COMMANDS + DATASET_COMMANDS, ids=" ".join)
def test_help_alone_shows_the_effective_config(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """``bricobot <command> --help`` with no other argument composes the command's config."""
    assert main([*command, "--help"]) == 0
    out = capsys.readouterr().out
    assert "does not compose" not in out
    assert "Effective config" in out
