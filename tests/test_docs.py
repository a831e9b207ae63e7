"""
Docs are tested: every setting is documented in README.md or docs/*.md by its
environment variable, and every command's --help ends with an example.
"""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from paperfeed.cli import cli
from paperfeed.settings import SETTINGS

ROOT = Path(__file__).resolve().parents[1]


def documentation() -> str:
    """README.md (which must exist) and every page under docs/."""
    readme = ROOT / "README.md"
    if not readme.exists():
        pytest.fail("README.md is missing")
    pages = [readme, *sorted((ROOT / "docs").glob("*.md"))]
    return "\n".join(page.read_text(encoding="utf-8") for page in pages)


def commands(group: click.Group = cli, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """The argument path of every command under `group`, nested groups included."""
    found = []
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        found.append((*path, name))
        if isinstance(command, click.Group):
            found.extend(commands(command, (*path, name)))
    return found


@pytest.mark.parametrize("setting", SETTINGS.values(), ids=lambda s: s.env)
def test_setting_is_documented(setting):
    assert re.search(rf"\b{setting.env}\b", documentation()), (
        f"{setting.env} is not mentioned in README.md or docs/*.md"
    )


@pytest.mark.parametrize("path", commands(), ids=" ".join)
def test_command_help_has_example(path):
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert re.search(r"^\s*Example:", result.output, re.MULTILINE), (
        f"`paperfeed {' '.join(path)} --help` has no 'Example:' line"
    )


def test_commands_are_found():
    assert ("ingest",) in commands()


def test_configuration_reference_is_generated_from_the_registry():
    """docs/configuration.md is `paperfeed settings --markdown`: regenerate it when a setting changes."""
    from paperfeed import settings

    doc = ROOT / "docs" / "configuration.md"
    assert doc.exists(), "docs/configuration.md is missing: paperfeed settings --markdown > docs/configuration.md"
    assert doc.read_text() == settings.reference(), (
        "docs/configuration.md is out of date: paperfeed settings --markdown > docs/configuration.md"
    )


def test_the_readme_layout_names_every_package_and_top_level_module():
    """A newcomer's map: each folder and top-level module of paperfeed/ has its line."""
    layout = (ROOT / "README.md").read_text().partition("## Layout")[2]
    package = ROOT / "paperfeed"
    names = [p.name for p in package.iterdir() if p.is_dir() and (p / "__init__.py").exists()]
    names += [p.name for p in package.glob("*.py") if p.name != "__init__.py"]
    names += ["data", "migrations"]
    missing = [n for n in sorted(set(names)) if n.removesuffix(".py") not in layout]
    assert not missing, f"README.md's layout section does not mention {missing}"
