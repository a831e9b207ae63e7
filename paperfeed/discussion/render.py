"""
Comments from Markdown to safe HTML: markdown-it-py parses (CommonMark, tables,
strikethrough, and `$…$` / `$$…$$` math through mdit-py-plugins' dollarmath),
then nh3 (Ammonia) keeps only an allow-list of tags and attributes.

- Raw HTML in a comment is never passed through: markdown-it escapes it to
  text (`html: False`), and nh3 would drop anything it let by.
- Math is parsed before emphasis, so `$a_1 * b_2 + c_3 * d_4$` stays one
  formula instead of turning `* b_2 + c_3 *` into italics.  It is written as
  escaped TeX inside `<span class="math">\\(…\\)</span>` (display math in a
  `div`), the shape the page's KaTeX auto-render (`static/site.js`) renders,
  as it does titles and abstracts; `class` survives nh3 only as `math`.
- Links keep `http`, `https` and `mailto` addresses only (`javascript:` and
  `data:` lose their `href`) and get `rel="nofollow ugc noopener"`; images
  are not allowed (their alt text is kept).
"""

from __future__ import annotations

import html
from functools import lru_cache

import nh3
from markdown_it import MarkdownIt
from mdit_py_plugins.dollarmath import dollarmath_plugin

TAGS = {
    "p", "br", "hr", "strong", "em", "s", "code", "pre", "blockquote",
    "ul", "ol", "li", "a", "h1", "h2", "h3", "h4", "h5", "h6",
    "table", "thead", "tbody", "tr", "th", "td", "span", "div",
}
ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}}
CLASSES = {"span": {"math"}, "div": {"math"}}
URL_SCHEMES = {"http", "https", "mailto"}
LINK_REL = "nofollow ugc noopener"


def _math(token, display: bool, block: bool = False) -> str:
    tex = html.escape(token.content.strip())
    if block:  # a paragraph of its own
        return f'<div class="math">\\[{tex}\\]</div>\n'
    if display:  # `$$…$$` inside a paragraph: displayed, but a span (no div inside a p)
        return f'<span class="math">\\[{tex}\\]</span>'
    return f'<span class="math">\\({tex}\\)</span>'


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    # no digits right after the opening or before the closing `$`: "costs $5 and $10" is text
    md.use(dollarmath_plugin, allow_labels=False, allow_space=True, allow_digits=False, double_inline=True)
    md.add_render_rule("math_inline", lambda self, tokens, idx, options, env: _math(tokens[idx], False))
    md.add_render_rule("math_inline_double", lambda self, tokens, idx, options, env: _math(tokens[idx], True))
    md.add_render_rule("math_block", lambda self, tokens, idx, options, env: _math(tokens[idx], True, block=True))
    md.add_render_rule("image", lambda self, tokens, idx, options, env: html.escape(tokens[idx].content))
    return md


def sanitise(fragment: str) -> str:
    """`fragment` with only the allow-listed tags, attributes, classes and link schemes left."""
    return nh3.clean(
        fragment,
        tags=TAGS,
        clean_content_tags={"script", "style"},
        attributes=ATTRIBUTES,
        allowed_classes=CLASSES,
        url_schemes=URL_SCHEMES,
        link_rel=LINK_REL,
        strip_comments=True,
    )


def to_html(source: str) -> str:
    """The comment `source` (Markdown with math) as sanitised HTML."""
    return sanitise(_parser().render(source)).strip()
