"""Markdown by markdown-it-py: CommonMark with tables, no raw HTML, safe links, linear time."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable

from jido_kernel.display import markdown
from jido_kernel.display.state import MARKDOWN_MAX_CHARS, markdown_html, message_html
from jido_kernel.state import Message


def render(text: str) -> str:
    """``markdown_html`` rendering afresh (not from its cache)."""
    markdown._rendered.cache_clear()
    return markdown_html(text)


def _seconds(function: Callable[[str], object], text: str) -> float:
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        function(text)
        best = min(best, time.perf_counter() - started)
    return best


def _scales_linearly(function: Callable[[str], object], unit: str, n: int) -> None:
    small = _seconds(function, unit * (n // len(unit)))
    large = _seconds(function, unit * (4 * n // len(unit)))
    assert large < 10 * small + 0.05, (unit, small, large)  # linear: ~4x; quadratic: ~16x


PATHOLOGICAL = ["[", "[](", "**a", "*_", "a\n", "[a](", "`", "<", "> ", "- ", "|a", "![", "_*a"]


def test_pathological_markdown_scales_linearly() -> None:
    for unit in PATHOLOGICAL:
        _scales_linearly(render, unit, MARKDOWN_MAX_CHARS // 8)


def test_three_million_brackets_render_fast_and_linearly() -> None:
    def message(text: str) -> str:
        return message_html(Message("m", "assistant", text))

    _scales_linearly(message, "[", 750_000)
    started = time.perf_counter()
    page = message(" [" * 1_500_000)
    assert time.perf_counter() - started < 5
    assert "shown as plain text" in page and len(page) < 2_000_000


def test_long_text_is_clipped_before_rendering() -> None:
    page = markdown_html("x" * (3 * MARKDOWN_MAX_CHARS) + "\n\n**b**")
    assert "<strong>" not in page and "shown as plain text" in page
    assert "<strong>b</strong>" in markdown_html("x" * 100 + "\n\n**b**")


def test_tables_quotes_nested_lists_and_fences() -> None:
    source = (
        "| name | size |\n"
        "|:-----|-----:|\n"
        "| a.txt | 12 |\n"
        "\n"
        "> quoted **text**\n"
        "\n"
        "- one\n"
        "  - nested\n"
        "    1. deeper\n"
        "- two\n"
        "\n"
        "~~gone~~\n"
        "\n"
        "```lua\n"
        "print('<b>')\n"
        "```\n"
    )
    page = markdown_html(source)
    assert '<th class="jido-align-left">name</th>' in page
    assert '<td class="jido-align-right">12</td>' in page and "style=" not in page
    assert "<blockquote>\n<p>quoted <strong>text</strong></p>\n</blockquote>" in page
    assert "<ul>\n<li>one\n<ul>\n<li>nested\n<ol>\n<li>deeper</li>" in page
    assert "<s>gone</s>" in page
    assert "<pre><code class=\"language-lua\">print('&lt;b&gt;')\n</code></pre>" in page


def test_raw_html_is_text_and_links_are_safe() -> None:
    page = markdown_html('<script>alert(1)</script> <img src=x onerror=alert(1)> <b onclick="x">b</b>')
    assert "<script" not in page and "<img" not in page and "<b " not in page
    assert "&lt;script&gt;" in page
    for unsafe in ("javascript:alert(1)", "data:text/html,x", "vbscript:x", "file:///etc/passwd", "//evil.org/x"):
        assert "href" not in markdown_html(f"[x]({unsafe}) <{unsafe}>"), unsafe
    assert "<img" not in markdown_html("![pixel](https://tracker.example/p.png)")
    page = markdown_html("[site](https://example.org) <mailto:a@example.org> [m](mailto:b@example.org)")
    assert '<a href="https://example.org" target="_blank" rel="noopener noreferrer">site</a>' in page
    assert 'href="mailto:a@example.org"' in page and 'href="mailto:b@example.org"' in page


def test_the_kernel_side_loads_markdown_it_only_to_render() -> None:
    code = (
        "import sys\nimport jido_kernel.extension, jido_kernel.kernel\nprint('markdown_it' in sys.modules)\n"
        "from jido_kernel.display.markdown import markdown_html\nprint(markdown_html('*a*'))\n"
    )
    done = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.splitlines() == ["False", '<div class="jido-md"><p><em>a</em></p></div>']
