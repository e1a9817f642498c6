"""Renderings: deterministic text/plain, escaped and scoped text/html, safe markdown."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from html.parser import HTMLParser

from hypothesis import given, settings
from hypothesis import strategies as st

from jido_kernel.display import state as render
from jido_kernel.display import tools
from jido_kernel.display.state import PARTS, markdown_html, part_bundle
from jido_kernel.state import Message, ReasoningStep, SessionState, Todo, ToolCall

ALLOWED_TAGS = {
    "a", "blockquote", "br", "code", "details", "div", "em", "h1", "h2", "h3", "h4", "h5", "h6",
    "hr", "li", "ol", "p", "pre", "s", "span", "strong", "style", "summary", "table", "tbody",
    "td", "th", "thead", "tr", "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"class", "href", "target", "rel", "start", "open"}


class TagAudit(HTMLParser):
    """Collects every tag and attribute of an HTML fragment."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str | None]] = []
        self.styles: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes.extend(attrs)
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.styles.append(data)


def audit(fragment: str) -> TagAudit:
    parser = TagAudit()
    parser.feed(fragment)
    parser.close()
    assert "<script" not in fragment.lower()
    assert set(parser.tags) <= ALLOWED_TAGS, set(parser.tags) - ALLOWED_TAGS
    for name, value in parser.attributes:
        assert name in ALLOWED_ATTRIBUTES, name
        if name == "href":
            assert value is not None and re.match(r"https?://|mailto:", value, re.IGNORECASE)
        if name == "class":
            assert value is not None
            assert all(word.startswith(("jido", "language-")) for word in value.split())
    return parser


def full_state(session_id: str) -> SessionState:
    state = SessionState(session_id)
    state.append_message("user", "Read a.txt please")
    state.append_message("assistant", "Sure, **reading** it.")
    state.append_message("system", "Be brief.")
    state.append_message("tool", "file contents")
    state.add_reasoning_step("The user wants a file.")
    call = state.add_tool_call("read_file", {"path": "a.txt", "limit": 10}, status="running")
    state.update_tool_call(call.id, status="completed", result="line 1\nline 2", duration_ms=12.0)
    state.add_tool_call("shell", {"cmd": "ls"}, status="error")
    state.update_todos(
        [
            {"content": "Write tests", "status": "completed"},
            {"content": "Run benchmarks", "status": "in_progress", "active_form": "Running"},
            {"content": "Document"},
        ]
    )
    return state


# -- text/plain -----------------------------------------------------------------------


def test_state_text_plain() -> None:
    text = full_state("s")._repr_mimebundle_()["text/plain"]
    assert text == (
        "Messages (4)\n"
        "  user: Read a.txt please\n"
        "  assistant: Sure, **reading** it.\n"
        "  system: Be brief.\n"
        "  tool: file contents\n"
        "Reasoning (1)\n"
        "  1. The user wants a file.\n"
        "Tool calls (2)\n"
        '  read_file(path="a.txt", limit=10) \u2014 completed\n'
        "    \u2192 line 1 \u2026\n"
        '  shell(cmd="ls") \u2014 error\n'
        "Todos (3)\n"
        "  [x] Write tests\n"
        "  [~] Running\n"
        "  [ ] Document"
    )


def test_text_plain_is_deterministic_and_free_of_ids_times_and_durations() -> None:
    first = full_state("session-one")
    time.sleep(0.01)
    second = full_state("session-two")
    assert first._repr_mimebundle_()["text/plain"] == second._repr_mimebundle_()["text/plain"]
    text = first._repr_mimebundle_()["text/plain"]
    snapshot = first.get_state()
    for item in (*snapshot.messages, *snapshot.reasoning_steps, *snapshot.tool_calls):
        assert item.id not in text
        assert item.timestamp.isoformat()[:16] not in text
    assert "session-one" not in text
    assert "12" not in text and " ms" not in text


def test_record_bundles() -> None:
    moment = datetime(2024, 5, 6, tzinfo=UTC)
    assert Message("m", "assistant", "Hello", moment)._repr_mimebundle_()["text/plain"] == ("assistant: Hello")
    assert Message("m", "user", "", moment, True)._repr_mimebundle_()["text/plain"] == ("user (interrupted):")
    assert ReasoningStep("r", "why", moment)._repr_mimebundle_()["text/plain"] == "1. why"
    call = ToolCall("t", "glob", {"pattern": "*.py"}, "pending", None, None, moment)
    assert call._repr_mimebundle_()["text/plain"] == 'glob(pattern="*.py") \u2014 pending'
    assert Todo("Ship it", "completed")._repr_mimebundle_()["text/plain"] == "[x] Ship it"
    for bundle in (
        Message("m", "user", "x", moment)._repr_mimebundle_(),
        call._repr_mimebundle_(),
        Todo("a")._repr_mimebundle_(),
    ):
        assert set(bundle) == {"text/plain", "text/html"}
        audit(bundle["text/html"])


def test_empty_parts() -> None:
    snapshot = SessionState("s").get_state()
    texts = {part: part_bundle(snapshot, part)["text/plain"] for part in PARTS}
    assert texts["messages"] == "No messages."
    assert texts["todos"] == "No todos."
    assert texts["tool_calls"] == "No tool calls."
    assert texts["reasoning"] == "No reasoning steps."
    assert texts["stream"] == "No message is streaming."
    assert texts["state"].splitlines()[0] == "Messages (0)"


def test_streaming_message_in_parts() -> None:
    state = SessionState("s")
    state.append_message("user", "hi")
    state.start_streaming()
    state.update_streaming("Hel")
    snapshot = state.get_state()
    assert part_bundle(snapshot, "stream")["text/plain"] == "assistant (streaming): Hel"
    assert part_bundle(snapshot, "messages")["text/plain"] == ("user: hi\nassistant (streaming): Hel")
    without_text = part_bundle(snapshot, "messages", stream_text=False)["text/plain"]
    assert without_text == "user: hi\nassistant (streaming):"
    ended = state.end_streaming()
    after = part_bundle(state.get_state(), "stream", last_stream=ended)["text/plain"]
    assert after == "assistant: Hel"


def test_limit_keeps_the_most_recent_items() -> None:
    state = SessionState("s")
    for index in range(5):
        state.append_message("user", f"m{index}")
        state.add_reasoning_step(f"r{index}")
        state.add_tool_call("t", {"i": index})
    snapshot = state.get_state()
    assert part_bundle(snapshot, "messages", limit=2)["text/plain"] == (
        "(3 earlier messages not shown)\nuser: m3\nuser: m4"
    )
    assert part_bundle(snapshot, "reasoning", limit=1)["text/plain"] == ("(4 earlier steps not shown)\n5. r4")
    tool_text = part_bundle(snapshot, "tool_calls", limit=1)["text/plain"]
    assert tool_text == "(4 earlier tool calls not shown)\nt(i=4) \u2014 pending"
    assert "3 earlier messages not shown" in part_bundle(snapshot, "messages", limit=2)["text/html"]


def test_long_arguments_and_results_are_clipped() -> None:
    call = ToolCall("t", "write_file", {"content": "x" * 500}, "completed", "y" * 5000)
    text = tools.tool_call_text(call)
    assert len(text) < 200 and text.count("\u2026") == 2
    html = tools.tool_call_html(call)
    assert "y" * 2000 in html and "y" * 2001 not in html
    assert "3000 more characters" in html


# -- text/html --------------------------------------------------------------------------


def test_state_html_structure_and_theme_variables() -> None:
    html = full_state("s")._repr_mimebundle_()["text/html"]
    parser = audit(html)
    for role in ("user", "assistant", "system", "tool"):
        assert f"jido-role-{role}" in html
    assert "<strong>reading</strong>" in html
    assert "jido-status-completed" in html and "jido-status-error" in html
    assert "12 ms" in html
    assert html.count('<li class="jido-todo jido-todo-') == 3 and "\u2611" in html
    css = "".join(parser.styles)
    for variable in (
        "--jp-ui-font-color0",
        "--jp-ui-font-color1",
        "--jp-layout-color1",
        "--jp-layout-color2",
        "--jp-border-color2",
        "--jp-brand-color1",
        "--jp-success-color1",
        "--jp-error-color1",
        "--jp-warn-color1",
        "--jp-code-font-family",
    ):
        assert f"var({variable}," in css, variable
    selectors = [rule.split("{")[0] for rule in css.split("}") if rule.strip()]
    for selector_list in selectors:
        for selector in selector_list.split(","):
            assert selector.strip().startswith(".jido"), selector


def test_durations_in_html() -> None:
    fast = ToolCall("t", "a", {}, "completed", None, 0.4)
    slow = ToolCall("u", "b", {}, "completed", None, 2345.0)
    assert "0 ms" in tools.tool_call_html(fast)
    assert "2.35 s" in tools.tool_call_html(slow)
    assert "jido-duration" not in tools.tool_call_html(ToolCall("v", "c", {}))


def test_only_assistant_messages_are_markdown() -> None:
    user = render.message_html(Message("m", "user", "**not bold**"))
    assistant = render.message_html(Message("m", "assistant", "**bold**"))
    assert "<strong>" not in user and "**not bold**" in user
    assert "<strong>bold</strong>" in assistant
    streaming = render.message_html(Message("m", "assistant", "**half"), streaming=True)
    assert "jido-cursor" in streaming and "**half" in streaming


# -- markdown -------------------------------------------------------------------------


def test_markdown_subset() -> None:
    source = (
        "# Title #\n"
        "Some **bold**, *em* and `x < y` text\n"
        "on two lines.\n"
        "\n"
        "- one\n"
        "- [two](https://example.org/a?b=1&c=2)\n"
        "\n"
        "1. first\n"
        "2. second\n"
        "```python\n"
        "if a < b:\n"
        "    print('**no**')\n"
        "```\n"
        "~~~\n"
        "tilde\n"
        "~~~"
    )
    assert markdown_html(source) == (
        '<div class="jido-md">'
        "<h1>Title</h1>\n"
        "<p>Some <strong>bold</strong>, <em>em</em> and <code>x &lt; y</code> text<br>\n"
        "on two lines.</p>\n"
        "<ul>\n<li>one</li>\n"
        '<li><a href="https://example.org/a?b=1&amp;c=2" target="_blank" '
        'rel="noopener noreferrer">two</a></li>\n</ul>\n'
        "<ol>\n<li>first</li>\n<li>second</li>\n</ol>\n"
        '<pre><code class="language-python">if a &lt; b:\n'
        "    print('**no**')\n</code></pre>\n"
        "<pre><code>tilde\n</code></pre>"
        "</div>"
    )


def test_markdown_headings() -> None:
    assert markdown_html("## Learn C#") == '<div class="jido-md"><h2>Learn C#</h2></div>'
    assert markdown_html("### Done ###  ") == '<div class="jido-md"><h3>Done</h3></div>'
    assert markdown_html("#tag") == '<div class="jido-md"><p>#tag</p></div>'
    assert markdown_html("####### seven") == '<div class="jido-md"><p>####### seven</p></div>'


def test_markdown_unclosed_fence_runs_to_the_end() -> None:
    assert markdown_html("```\ncode <b>") == ('<div class="jido-md"><pre><code>code &lt;b&gt;</code></pre></div>')


def test_markdown_refuses_unsafe_links_and_raw_html() -> None:
    for source in (
        "[x](javascript:alert(1))",
        "[x](data:text/html,<script>alert(1)</script>)",
        '<a href="javascript:alert(1)">x</a>',
        "<img src=x onerror=alert(1)>",
        "<script>alert(1)</script>",
        '[x](https://ok.org/" onmouseover="alert(1))',
        '```js" onload="x\n```',
    ):
        html = markdown_html(source)
        parser = audit(html)
        assert "img" not in parser.tags
        assert all(name != "href" for name, _ in parser.attributes), source


def test_markdown_has_no_catastrophic_backtracking() -> None:
    hostile = [
        "*" * 100_000,
        "**a" * 50_000,
        "`" * 100_000,
        "[" * 50_000 + "](" * 50_000,
        "# " + " " * 100_000 + "x",
        "```" + " " * 100_000 + "`",
        "- " * 50_000,
        ("*a " * 30_000) + "\n",
    ]
    started = time.monotonic()
    for text in hostile:
        audit(markdown_html(text))
    assert time.monotonic() - started < 30


# -- escaping properties ----------------------------------------------------------------

TOKENS = [
    "<", ">", "&", '"', "'", "`", "```", "~~~", "*", "**", "_", "# ", "- ", "1. ", "[", "]",
    "(", ")", "](", "https://x.org/", "javascript:", "<script>", "</script>", "<b>",
    "<img src=x onerror=alert(1)>", "&lt;", "&amp;", "\n", "\n\n", " ", "a", "Z", "\u00e9",
]  # fmt: skip
hostile_text = st.lists(st.sampled_from(TOKENS), max_size=60).map("".join) | st.text(max_size=100)


@settings(max_examples=300, deadline=None)
@given(hostile_text)
def test_markdown_output_contains_only_our_markup(text: str) -> None:
    audit(markdown_html(text))


@settings(max_examples=150, deadline=None)
@given(
    role=st.sampled_from(["user", "assistant", "system", "tool"]),
    content=hostile_text,
    name=hostile_text.filter(bool),
    key=hostile_text,
    value=hostile_text,
    result=hostile_text,
    todo=hostile_text.filter(lambda t: bool(t.strip())),
    active_form=hostile_text,
    streaming=hostile_text,
)
def test_no_user_content_survives_as_markup(
    role: str,
    content: str,
    name: str,
    key: str,
    value: str,
    result: str,
    todo: str,
    active_form: str,
    streaming: str,
) -> None:
    state = SessionState("s")
    state.append_message(role, content)
    call = state.add_tool_call(name, {key: value})
    state.update_tool_call(call.id, status="error", result=result)
    state.add_reasoning_step(content)
    state.update_todos([{"content": todo, "status": "in_progress", "active_form": active_form}])
    state.start_streaming(role=role)
    state.update_streaming(streaming)
    snapshot = state.get_state()
    for part in PARTS:
        audit(part_bundle(snapshot, part)["text/html"])
    state.end_streaming()
    for item in (*state.messages, *state.tool_calls, *state.reasoning_steps, *state.todos):
        audit(item._repr_mimebundle_()["text/html"])


@settings(max_examples=150, deadline=None)
@given(text=hostile_text, role=st.sampled_from(["user", "system", "tool"]))
def test_plain_content_never_changes_the_markup(text: str, role: str) -> None:
    """Outside markdown, the tags of a rendering do not depend on the content at all."""

    def tags(fragment: str) -> list[str]:
        return audit(fragment).tags

    def renderings(value: str) -> list[str]:
        return [
            render.message_html(Message("m", role, value)),
            render.message_html(Message("m", "assistant", value), streaming=True),
            tools.tool_call_html(ToolCall("t", value or "x", {value: value}, "error", value)),
            render.todos_html([Todo(value if value.strip() else "x", "in_progress", value)]),
            render.reasoning_html([ReasoningStep("r", value)]),
        ]

    for hostile, plain in zip(renderings(text), renderings("x"), strict=True):
        assert tags(hostile) == tags(plain)


def test_a_link_with_an_empty_destination_has_no_href() -> None:
    for text in ("[]()", "[x]()", "[x](<>)"):
        assert "href" not in markdown_html(text), text
