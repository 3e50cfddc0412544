"""Every command the CLI offers is documented in the README (as sqlite-utils does)."""

from __future__ import annotations

from pathlib import Path

import typer

from newsletter.cli import app

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def commands(group: typer.Typer, prefix: str = "newsletter") -> list[str]:
    found = []
    for command in group.registered_commands:
        name = command.name or (command.callback.__name__ if command.callback else "")
        found.append(f"{prefix} {name.replace('_', '-')}")
    for sub in group.registered_groups:
        if sub.typer_instance is not None:
            found.extend(commands(sub.typer_instance, f"{prefix} {sub.name}"))
    return found


def test_every_command_is_in_the_readme() -> None:
    names = commands(app)
    assert len(names) >= 15
    flat = README.replace("\\|", "|")
    missing = []
    for name in names:
        *group, leaf = name.split()
        # Sub-commands may be listed together: `newsletter feeds add|remove|list`.
        listed = f"`{name}" in flat or any(
            f"`{' '.join(group)} " in line and leaf in line for line in flat.splitlines()
        )
        if not listed:
            missing.append(name)
    assert not missing, f"commands missing from README: {missing}"


def test_readme_starts_with_the_two_setup_commands() -> None:
    block = README.split("```", 2)[1].strip().splitlines()
    assert block[0] == "bash"
    lines = [line for line in block[1:] if line.strip()]
    assert len(lines) == 2
    assert lines[0].endswith("newsletter run -c examples/demo.yaml")
    assert "'.[test]'" in lines[1] and lines[1].endswith("python -m pytest")
    ci = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text(encoding="utf-8")
    assert "pip install -q '.[test]'" in ci and ".venv/bin/python -m pytest" in ci
