"""`paperfeed library import` / `export`: round trip, exit statuses, help examples."""

from __future__ import annotations

import re

import click
import pytest
from click.testing import CliRunner

from paperfeed.library.commands import library
from tests.library_support import FIXTURES, add_user, load_corpus
from tests.test_library_import import _library


@pytest.fixture
def ada(engine):
    load_corpus(engine)
    return add_user(engine, "ada")


def run(*args: str):
    return CliRunner().invoke(library, list(args))


def test_import_exit_statuses(engine, ada, tmp_path):
    good = tmp_path / "good.bib"
    good.write_text("@misc{a, eprint = {0704.0001}, archivePrefix = {arXiv}}\n")
    done = run("import", "ada", str(good))
    assert done.exit_code == 0, done.output
    assert "1 imported" in done.output
    some = run("import", "ada", str(FIXTURES / "zotero-export.bib"), "--fetch-limit", "0")
    assert some.exit_code == 1
    assert "einstein_can_1935" in some.output and "malformed" in some.output
    letter = tmp_path / "letter.txt"
    letter.write_text("Not a bibliography at all.\n")
    nothing = run("import", "ada", str(letter))
    assert nothing.exit_code == 2 and "nothing imported" in nothing.output
    unknown = run("import", "nobody", str(good))
    assert unknown.exit_code == 2 and unknown.output.strip() == "error: no user 'nobody' (paperfeed user create makes one)"
    assert run("export", "nobody").exit_code == 2


def test_export_then_import_round_trip(engine, ada, tmp_path):
    run("import", "ada", str(FIXTURES / "every-rule.bib"), "--collection", "Thesis", "--fetch-limit", "0")
    run("import", "ada", str(FIXTURES / "zotero-export.bib"))
    out = run("export", "ada")  # BibTeX on standard output by default
    assert out.exit_code == 0 and out.output.startswith("@comment{paperfeed-library")
    exported = tmp_path / "ada.bib"
    exported.write_text(out.output)
    bob = add_user(engine, "bob")
    back = run("import", "bob", str(exported))
    assert back.exit_code == 0, back.output
    assert _library(engine, bob) == _library(engine, ada)
    assert _library(engine, ada)["0704.0001"] == {"Thesis", "Reading list"}
    as_json = tmp_path / "ada.json"
    assert run("export", "ada", "--format", "json", "--output", str(as_json)).exit_code == 0
    assert '"format": "paperfeed-library"' in as_json.read_text()
    one = run("export", "ada", "--collection", "Thesis", "--format", "csv")
    assert one.exit_code == 0 and one.output.count("\n") == 9  # header + 8 papers
    missing = run("export", "ada", "--collection", "Nope")
    assert missing.exit_code == 2 and "no such collection" in missing.output


def _commands(group: click.Group = library, path: tuple[str, ...] = ()):
    yield path
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if isinstance(command, click.Group):
            yield from _commands(command, (*path, name))
        else:
            yield (*path, name)


@pytest.mark.parametrize("path", list(_commands()), ids=lambda p: " ".join(p) or "library")
def test_every_command_help_has_an_example(path):
    result = CliRunner().invoke(library, [*path, "--help"])
    assert result.exit_code == 0
    assert re.search(r"^\s*Example:", result.output, re.MULTILINE)
