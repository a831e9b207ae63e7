"""
The renderer: one module every page module renders through, held by each app,
so that no module under `web/` imports `web/app.py` (issue #11).
"""

from __future__ import annotations

import ast
from pathlib import Path

import paperfeed.web
from paperfeed.web import templating
from paperfeed.web.app import create_app
from tests.webdata import client, soup

WEB = Path(paperfeed.web.__file__).parent


def imported(path: Path) -> set[str]:
    """Every module `path` imports, at module level or inside functions."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from . import app / from .app import x
                base = ".".join(["paperfeed", "web"] + ([base] if base else []))
            names.add(base)
            names.update(f"{base}.{a.name}" for a in node.names)
    return names


def test_no_web_module_imports_the_app():
    for path in WEB.glob("*.py"):
        if path.name in ("app.py", "commands.py"):  # the app itself, and `paperfeed serve` above it
            continue
        assert "paperfeed.web.app" not in imported(path), f"{path.name} imports paperfeed.web.app"


def test_templating_imports_no_page_module():
    web_imports = {n for n in imported(WEB / "templating.py") if n.startswith("paperfeed.web")}
    assert web_imports == set()


def test_each_app_renders_with_its_own_context(engine):
    app = create_app(engine)
    assert isinstance(app.state.renderer, templating.Renderer)
    assert app.state.renderer.templates().env is templating.SITE  # built once per process
    page = soup(client(engine).get("/login"))
    assert page.select_one('input[name="csrf_token"]')["value"]  # from the app's context processor


def test_filters():
    env = templating.environment()
    assert env.filters["nice_date"](None) == ""
    assert env.from_string("{{ names | author_list(2) }}").render(names=["A", "B", "C"]) == "A, B and 1 more"
    pages = templating.environment(WEB / "templates")
    assert pages is templating.environment(WEB / "templates") and pages.filters["excerpt"]
