"""The pipe protocol, and a kernel that survives a misbehaving worker.

The worker is the untrusted side: whatever it writes — garbage, wrong types, oversized
lines, silence — the kernel answers with a clear error, restarts it, and never hangs."""

from __future__ import annotations

import json
import re
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jido_kernel.lua import LuaSandbox, LuaWorkerCrashed, protocol, transport
from jido_kernel.lua.protocol import FROM_KERNEL, FROM_WORKER, ProtocolError


def _read(data: bytes, schemas: dict = FROM_WORKER) -> dict | None:
    """The first message of a stream holding ``data``; ``None`` if it is empty."""
    decoder = protocol.Decoder(schemas)
    decoder.feed(data)
    message = decoder.next()
    if message is None:
        decoder.end()
    return message


texts = st.text(st.characters(codec="utf-8"), max_size=40)
messages = st.one_of(
    st.builds(lambda id, text: {"type": "stdout", "id": id, "text": text}, st.integers(0, 2**53), texts),
    st.builds(lambda id: {"type": "done", "id": id}, st.integers(0, 2**53)),
    st.builds(lambda text: {"type": "fatal", "message": text}, texts),
)


class TestFraming:
    def test_round_trip(self) -> None:
        message = {"type": "stdout", "id": 3, "text": "é\n"}
        line = protocol.dump(message)
        assert line.endswith(b"\n") and line.count(b"\n") == 1
        assert _read(line) == message
        assert _read(b"") is None

    @pytest.mark.parametrize(
        ("data", "problem"),
        [
            (b"not json\n", "not JSON"),
            (b"[1]\n", "not an object"),
            (b'{"type": 1}\n', "not an object with a string 'type'"),
            (b'{"type": "hello"}\n', "unknown message type 'hello'"),
            (b'{"type": "stdout", "id": 1}\n', "stdout message lacks 'text'"),
            (b'{"type": "stdout", "id": "1", "text": ""}\n', "stdout message has a mistyped 'id'"),
            (b'{"type": "done", "id": 1}', "cut off"),
            (b"[" * 100000 + b"\n", "not JSON"),
        ],
    )
    def test_bad_messages(self, data: bytes, problem: str) -> None:
        with pytest.raises(ProtocolError, match=problem):
            _read(data)

    def test_size_limit_on_both_sides(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(protocol, "MAX_MESSAGE", 100)
        with pytest.raises(ProtocolError, match="message too large"):
            protocol.dump({"type": "stdout", "id": 1, "text": "x" * 100})
        with pytest.raises(ProtocolError, match="larger than 100 bytes"):
            _read(b'{"type": "stdout", "id": 1, "text": "' + b"x" * 200 + b'"}\n')

    def test_kernel_messages_are_checked_too(self) -> None:
        with pytest.raises(ProtocolError, match="run message lacks"):
            _read(b'{"type": "run", "id": 1}\n', FROM_KERNEL)
        assert _read(b'{"type": "shutdown"}\n', FROM_KERNEL) == {"type": "shutdown"}

    @given(st.lists(messages, max_size=8), st.data())
    def test_any_split_of_the_stream_gives_the_same_messages(self, sent: list[dict], data: st.DataObject) -> None:
        stream = b"".join(protocol.dump(message) for message in sent)
        cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
        decoder = protocol.Decoder(FROM_WORKER)
        received = []
        for start, end in zip([0, *cuts], [*cuts, len(stream)], strict=True):
            decoder.feed(stream[start:end])
            while (message := decoder.next()) is not None:
                received.append(message)
        decoder.end()
        assert received == sent

    def test_a_line_is_removed_only_once_it_parsed(self) -> None:
        decoder = protocol.Decoder(FROM_WORKER)
        decoder.feed(b'{"type": "done", "id": 1}\n{"type": "done"')
        assert decoder.next() == {"type": "done", "id": 1}
        assert decoder.next() is None
        with pytest.raises(ProtocolError, match="cut off"):
            decoder.end()
        decoder.feed(b', "id": 2}\n')
        assert decoder.next() == {"type": "done", "id": 2}
        decoder.end()

    @given(st.lists(messages, min_size=2, max_size=6), st.data())
    def test_resync_drops_only_the_torn_line(self, sent: list[dict], data: st.DataObject) -> None:
        lines = [protocol.dump(message) for message in sent]
        torn = data.draw(st.integers(0, len(lines) - 2))
        cut = data.draw(st.integers(1, len(lines[torn]) - 1))
        lost = data.draw(st.integers(0, len(lines[torn]) - cut - 1))  # bytes of the line that never arrive
        decoder = protocol.Decoder(FROM_WORKER)
        decoder.feed(b"".join(lines[:torn]) + lines[torn][:cut])
        received = []
        while (message := decoder.next()) is not None:
            received.append(message)
        decoder.resync()
        decoder.feed(lines[torn][cut + lost :] + b"".join(lines[torn + 1 :]))
        while (message := decoder.next()) is not None:
            received.append(message)
        decoder.end()
        assert received == sent[:torn] + sent[torn + 1 :]


CONFINEMENT = {
    "landlock_abi": None, "landlock_enforced": False, "network_restricted": False, "git_read_only": False, "notes": []
}  # fmt: skip
READY = json.dumps({"type": "ready", "confinement": CONFINEMENT, "lua": "Lua 5.4"})


def fake_worker(behaviour: str) -> tuple[str, ...]:
    """argv of a worker that reads its config, says ready, then ``behaviour`` per request."""
    script = textwrap.dedent(
        f"""
        import json, sys, time
        sys.stdin.readline()
        def say(line):
            sys.stdout.write(line + "\\n"); sys.stdout.flush()
        say({READY!r})
        for line in sys.stdin:
            request = json.loads(line)
            {behaviour}
        """
    )
    return (sys.executable, "-c", script)


@pytest.fixture
def misbehaving(project: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[callable]:
    sandboxes: list[LuaSandbox] = []

    def make(behaviour: str, **traits: object) -> LuaSandbox:
        monkeypatch.setattr(transport.Worker, "command", fake_worker(behaviour))
        sandbox = LuaSandbox(project, **traits)
        sandboxes.append(sandbox)
        return sandbox

    yield make
    for sandbox in sandboxes:
        sandbox.close()


class TestMisbehavingWorker:
    @pytest.mark.parametrize(
        ("behaviour", "problem"),
        [
            ("say('garbage')", "it broke the protocol: message is not JSON"),
            ("say(json.dumps({'type': 'launch', 'id': request['id']}))", "unknown message type 'launch'"),
            ("say(json.dumps({'type': 'result', 'id': request['id'], 'values': [{'$bytes': '!!'}], "
             "'outputs': {}, 'duration': 0}))",
             "malformed value (malformed $bytes)"),
            ("say(json.dumps({'type': 'tool_calls', 'id': request['id'], 'calls': [['x']]}))",
             "tool_calls records must be arrays of 6 values"),
            ("say(json.dumps({'type': 'tool_calls', 'id': request['id'], 'calls': {}}))",
             "tool_calls message has a mistyped 'calls'"),
            ("call = ['x', 'read_file', {}, 'weird', None, None]\n"
             "            say(json.dumps({'type': 'tool_calls', 'id': request['id'], 'calls': [call]}))",
             "unknown tool call status 'weird'"),
            ("call = ['x', 'read_file', {}, 'running', None, None]\n"
             "            say(json.dumps({'type': 'tool_calls', 'id': request['id'], 'calls': [call] * 257}))",
             "tool_calls message with more than 256 records"),
            ("say(json.dumps({'type': 'error', 'id': request['id'], 'error': {'type': 'LuaError'}}))",
             "error message lacks 'message'"),
            ("say(json.dumps({'type': 'ready', 'confinement': {}, 'lua': 'x'}))",
             "unexpected 'ready' message during a run"),
            ("sys.exit(3)", "exit code 3"),
        ],
    )  # fmt: skip
    def test_each_violation_is_a_crash_and_a_restart(self, misbehaving: callable, behaviour: str, problem: str) -> None:
        sandbox = misbehaving(behaviour)
        with pytest.raises(LuaWorkerCrashed) as caught:
            sandbox.run("return 1")
        assert problem in str(caught.value) and caught.value.state_reset
        assert str(caught.value).endswith("the Lua state was reset (globals are lost).")

    def test_oversized_line(self, misbehaving: callable, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(protocol, "MAX_MESSAGE", 1000)
        sandbox = misbehaving("say(json.dumps({'type': 'stdout', 'id': request['id'], 'text': 'x' * 5000}))")
        with pytest.raises(LuaWorkerCrashed, match="larger than 1000 bytes"):
            sandbox.run("return 1")

    def test_a_worker_that_closes_its_output_but_lingers_is_killed(self, misbehaving: callable) -> None:
        sandbox = misbehaving("import os; os.close(1); time.sleep(60)")
        start = time.monotonic()
        with pytest.raises(LuaWorkerCrashed, match="killed by SIGKILL"):
            sandbox.run("return 1", timeout=30)
        assert time.monotonic() - start < 10

    def test_silence_hits_the_deadline(self, misbehaving: callable) -> None:
        sandbox = misbehaving("time.sleep(60)", grace_period=0.2)
        start = time.monotonic()
        with pytest.raises(Exception) as caught:
            sandbox.run("return 1", timeout=0.3)
        assert getattr(caught.value, "state_reset", False) and time.monotonic() - start < 3

    def test_confinement_report_is_checked(self, project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        ready = json.dumps({"type": "ready", "confinement": {"notes": "all good"}, "lua": "Lua 5.4"})
        script = f"import sys; sys.stdin.readline(); print({ready!r}, flush=True); sys.stdin.read()"
        monkeypatch.setattr(transport.Worker, "command", (sys.executable, "-c", script))
        sandbox = LuaSandbox(project)
        try:
            with pytest.raises(LuaWorkerCrashed, match="confinement message lacks 'landlock_abi'"):
                _ = sandbox.confinement
        finally:
            sandbox.close()

    def test_never_ready(self, project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(transport.Worker, "command", (sys.executable, "-c", "import time; time.sleep(60)"))
        sandbox = LuaSandbox(project, startup_timeout=0.5)
        try:
            with pytest.raises(LuaWorkerCrashed, match=r"could not start: it was not ready within 0\.5 s"):
                sandbox.run("return 1")
        finally:
            sandbox.close()

    def test_fatal_start(self, project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        script = 'import sys; sys.stdin.readline(); print(\'{"type": "fatal", "message": "no lupa"}\', flush=True)'
        monkeypatch.setattr(transport.Worker, "command", (sys.executable, "-c", script))
        sandbox = LuaSandbox(project)
        try:
            with pytest.raises(LuaWorkerCrashed, match=r"The Lua worker could not start: no lupa\."):
                sandbox.run("return 1")
        finally:
            sandbox.close()

    def test_real_worker_with_an_unusable_root(self, tmp_path: Path) -> None:
        sandbox = LuaSandbox(tmp_path / "missing")
        try:
            with pytest.raises(LuaWorkerCrashed, match="could not start: FileNotFoundError"):
                sandbox.run("return 1")
        finally:
            sandbox.close()


class TestText:
    """Messages carry text as UTF-8: a lone surrogate is shown, never sent or accepted."""

    @given(st.text())
    def test_text_without_surrogates_crosses_exactly(self, text: str) -> None:
        assert _read(protocol.dump({"type": "stdout", "id": 1, "text": text})) == {
            "type": "stdout",
            "id": 1,
            "text": text,
        }

    @given(st.lists(st.one_of(st.text(max_size=5), st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF))))
    def test_a_lone_surrogate_is_sent_as_text_that_shows_it(self, parts: list[str]) -> None:
        text = "".join(parts)
        message = _read(protocol.dump({"type": "stdout", "id": 1, "text": text}))
        assert message is not None
        sent = message["text"]
        sent.encode("utf-8")  # no surrogate left
        if not any("\ud800" <= char <= "\udfff" for char in text):
            assert sent == text

    def test_bytes_that_were_not_utf8_show_as_escapes(self) -> None:
        path = b"x\xff/\xc3".decode("utf-8", "surrogateescape")
        message = _read(protocol.dump({"type": "stdout", "id": 1, "text": f"{path} \ud800"}))
        assert message is not None and message["text"] == "x\\xff/\\xc3 \\ud800"

    @pytest.mark.parametrize(
        "text",
        [b'"\\ud800"', b'"a\\uDFFF"', b'"\\ud83d\\ude00"', b'"\\\\\\ud800"', b'"\xed\xa0\x80"', b'"\xff"'],
    )
    def test_a_worker_sending_surrogates_or_bytes_that_are_not_utf8_breaks_the_protocol(self, text: bytes) -> None:
        with pytest.raises(ProtocolError, match=r"surrogate|not UTF-8"):
            _read(b'{"type":"stdout","id":1,"text":' + text + b"}\n")

    @pytest.mark.parametrize("text", ['"\\\\ud800"', '"\\\\\\\\ud800"', '"\\u00e9 \\u0000"', '"\U0001f600"'])
    def test_backslashes_and_other_escapes_are_text(self, text: str) -> None:
        message = _read(b'{"type":"stdout","id":1,"text":' + text.encode() + b"}\n")
        assert message is not None and message["text"] == json.loads(text)


def _escapes_surrogate_reference(line: bytes) -> bool:
    """JSON's escapes read one by one: does one of them start ``\\uD8``-``\\uDF``?"""
    index = 0
    while index < len(line):
        if line[index : index + 1] != b"\\":
            index += 1
        elif re.fullmatch(rb"u[dD][89a-fA-F]", line[index + 1 : index + 4]):
            return True
        else:
            index += 2
    return False


@given(st.lists(st.sampled_from(["\\", "u", "d", "D", "8", "c", "f", "0", "x", '"']), max_size=40))
def test_escaped_surrogates_are_found_as_json_reads_its_escapes(parts: list[str]) -> None:
    line = "".join(parts).encode()
    assert protocol._escapes_surrogate(line) == _escapes_surrogate_reference(line)
