"""Comments from Markdown to safe HTML: hostile payloads come out as text or not at all,
math stays one formula (never emphasis), links get rel="nofollow ugc noopener"."""

from __future__ import annotations

import pytest
from bs4 import BeautifulSoup

from paperfeed.discussion.render import LINK_REL, sanitise, to_html

MATH = "$a_1 * b_2 + c_3 * d_4$"


def parsed(source: str) -> BeautifulSoup:
    return BeautifulSoup(to_html(source), "html.parser")


def test_inline_math_is_not_emphasis():
    out = parsed(f"Consider {MATH} and *this*.")
    (math,) = out.select("span.math")
    assert math.get_text() == r"\(a_1 * b_2 + c_3 * d_4\)"  # the TeX as written, for KaTeX
    assert [em.get_text() for em in out.select("em")] == ["this"]


def test_display_math_and_escaped_tex():
    out = parsed("$$\n\\sum_i x_i < \\frac{1}{2}\n$$\n\ninline $$y > 0$$ too")
    block = out.select_one("div.math")
    assert block.get_text() == r"\[\sum_i x_i < \frac{1}{2}\]"
    assert out.select_one("p span.math").get_text() == r"\[y > 0\]"  # a span: no div inside a p
    assert "&lt;" in to_html("$x < y$")  # TeX is escaped text, never markup


def test_dollars_for_money_stay_text():
    assert parsed("It costs $5 and $10.").select(".math") == []


def test_code_keeps_dollars_and_markup_as_text():
    out = parsed("`$x$` and\n\n```\n<b>$y$</b>\n```")
    assert out.select(".math") == [] and out.select("b") == []
    assert out.select_one("pre code").get_text() == "<b>$y$</b>\n"


@pytest.mark.parametrize(
    "payload",
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        '<a href="javascript:alert(1)">x</a>',
        "<iframe src=https://evil.example></iframe>",
        '<div onclick="alert(1)" style="color:red">x</div>',
        "<svg onload=alert(1)>",
    ],
)
def test_raw_html_is_shown_as_text(payload):
    out = parsed(f"Look: {payload}")
    assert out.get_text().strip() == f"Look: {payload}"  # every character kept, as text
    assert out.find_all(["script", "img", "iframe", "svg"]) == []
    assert all(not k.startswith("on") for tag in out.find_all(True) for k in tag.attrs)


@pytest.mark.parametrize(
    "link",
    ["javascript:alert(1)", "JaVaScRiPt:alert(1)", "vbscript:msgbox(1)", "data:text/html,<script>alert(1)</script>"],
)
def test_script_links_are_not_links(link):
    out = parsed(f"[click]({link}) and <{link}>")
    assert out.select("a") == []


def test_links_get_nofollow_ugc_noopener():
    out = parsed("[paper](https://arxiv.org/abs/2406.09415) <https://example.org/x> [mail](mailto:a@example.org)")
    links = out.select("a")
    assert [a["href"] for a in links] == ["https://arxiv.org/abs/2406.09415", "https://example.org/x", "mailto:a@example.org"]
    assert {a["rel"] if isinstance(a["rel"], str) else " ".join(a["rel"]) for a in links} == {LINK_REL}


def test_images_keep_only_their_alt_text():
    out = parsed("![a plot](https://example.org/p.png)")
    assert out.select("img") == [] and out.get_text().strip() == "a plot"


def test_markdown_structure_survives():
    out = parsed("# Title\n\n- one\n- **two**\n\n> quoted ~~old~~\n\n| a | b |\n|---|---|\n| 1 | 2 |")
    assert out.select_one("h1").get_text() == "Title"
    assert [li.get_text() for li in out.select("ul li")] == ["one", "two"]
    assert out.select_one("blockquote s").get_text() == "old"
    assert [td.get_text() for td in out.select("td")] == ["1", "2"]


def test_the_sanitiser_alone_drops_what_a_stored_fragment_should_not_hold():
    """`sanitise` alone (the last step of `to_html`) drops what no comment may hold."""
    dirty = '<p class="x math" onclick="a()">hi<script>alert(1)</script><img src=x onerror=alert(1)></p><span class="math evil">m</span><a href="javascript:alert(1)">j</a>'
    out = BeautifulSoup(sanitise(dirty), "html.parser")
    assert out.find_all(["script", "img"]) == []
    assert out.select_one("p").attrs == {}
    assert out.select_one("span")["class"] == ["math"]
    assert "href" not in out.select_one("a").attrs
