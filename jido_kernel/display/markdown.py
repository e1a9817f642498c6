"""Markdown of assistant messages, by markdown-it-py: safe links, no images, no raw HTML.

markdown-it-py is imported when the first message is rendered, not at kernel start (an
installed package: Lua can write no file under ``site-packages`` or a virtual environment).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from jido_kernel.display.html import esc
from jido_kernel.text import clip, size_text

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from markdown_it.renderer import RendererHTML
    from markdown_it.token import Token
    from markdown_it.utils import EnvType, OptionsDict

MARKDOWN_MAX_CHARS = 32 * 1024
MAX_ITEM_CHARS = 256 * 1024

_SAFE_LINK = re.compile(r"(?:https?://|mailto:)", re.IGNORECASE)
_ALIGN = re.compile(r"text-align:(left|right|center)")


def _validate_link(url: str) -> bool:
    return _SAFE_LINK.match(url) is not None


def _link_open(
    renderer: RendererHTML,
    tokens: Sequence[Token],
    idx: int,
    options: OptionsDict,
    env: EnvType,
) -> str:
    token = tokens[idx]
    if not _validate_link(str(token.attrGet("href") or "")):  # markdown-it skips an empty one
        token.attrs.pop("href", None)
    token.attrSet("target", "_blank")
    token.attrSet("rel", "noopener noreferrer")
    return renderer.renderToken(tokens, idx, options, env)


def _cell_open(
    renderer: RendererHTML,
    tokens: Sequence[Token],
    idx: int,
    options: OptionsDict,
    env: EnvType,
) -> str:
    token = tokens[idx]
    align = _ALIGN.fullmatch(str(token.attrGet("style") or ""))
    token.attrs.pop("style", None)
    if align is not None:
        token.attrSet("class", f"jido-align-{align.group(1)}")
    return renderer.renderToken(tokens, idx, options, env)


@functools.cache
def _markdown() -> MarkdownIt:
    """The parser, made on first use."""
    from markdown_it import MarkdownIt

    parser = MarkdownIt("commonmark", {"html": False, "breaks": True, "xhtmlOut": False})
    parser.enable(["table", "strikethrough"]).disable(["image"])
    parser.validateLink = _validate_link  # type: ignore[method-assign]
    parser.add_render_rule("link_open", _link_open)
    parser.add_render_rule("th_open", _cell_open)
    parser.add_render_rule("td_open", _cell_open)
    return parser


def markdown_html(text: str) -> str:
    """HTML of CommonMark with tables and strikethrough, by markdown-it-py.

    Raw HTML in ``text`` is shown as text, images are not loaded, links must be http(s) or
    mailto. Text longer than :data:`MARKDOWN_MAX_CHARS` is shown as plain text (clipped
    to :data:`MAX_ITEM_CHARS`): rendering time stays small and linear.
    """
    if len(text) > MARKDOWN_MAX_CHARS:
        note = f'<div class="jido-more">longer than {size_text(MARKDOWN_MAX_CHARS)}: shown as plain text</div>'
        return f'<div class="jido-md">{note}<div class="jido-text">{esc(clip(text, MAX_ITEM_CHARS))}</div></div>'
    return _rendered(text)


@functools.lru_cache(maxsize=64)
def _rendered(text: str) -> str:
    """Rendered markdown of a text of at most :data:`MARKDOWN_MAX_CHARS` (cached; the cache
    never holds a longer text)."""
    return f'<div class="jido-md">{_markdown().render(text).rstrip()}</div>'
