"""The preview child is shut in: a converter taken over by a hostile file cannot read the
server's files or environment, reach the network or a local socket (a database's included), run
a program, signal the server or write outside its own folder. Through the real sandbox."""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from openpyxl import Workbook
from pptx import Presentation

from commonroom.core import sandbox as core_sandbox
from commonroom.core.confine import LAYERS, landlock_abi
from commonroom.previews import sandbox
from commonroom.previews.convert import TEST_CONVERTERS_ENV
from commonroom.previews.sandbox import run_converter
from commonroom.previews.tests import files
from commonroom.previews.tests.test_formats_pdf import text_pdf

ABI_NEEDED = 6  # files, TCP and signal scoping; the seccomp layer needs nothing new


def _kernel_can_confine() -> None:
    abi = landlock_abi()
    if abi >= ABI_NEEDED:
        return
    reason = (
        f"THIS KERNEL CANNOT SHUT THE PREVIEW CHILD IN: Landlock ABI {abi}, "
        f"{ABI_NEEDED} needed (Linux 6.12 or later, Landlock switched on)"
    )
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture
def listeners(tmp_path: Path) -> Iterator[dict[str, object]]:
    """A TCP and a Unix socket listening on this machine, as a database would."""
    tcp = socket.create_server(("127.0.0.1", 0))
    unix_path = tmp_path / "db.sock"
    unix = socket.socket(socket.AF_UNIX)
    unix.bind(str(unix_path))
    unix.listen()
    for s in (tcp, unix):
        s.setblocking(False)
    yield {"tcp": tcp, "unix": unix, "tcp_port": tcp.getsockname()[1], "unix_path": unix_path}
    tcp.close()
    unix.close()


def _accepted(server: object) -> bool:
    assert isinstance(server, socket.socket)
    try:
        conn, _ = server.accept()
    except BlockingIOError:
        return False
    conn.close()
    return True


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only")
def test_a_taken_over_converter_reaches_nothing_outside_its_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, listeners: dict[str, object]
) -> None:
    _kernel_can_confine()
    monkeypatch.setenv(TEST_CONVERTERS_ENV, "1")
    data = tmp_path / "data"
    data.mkdir()
    secret = data / "blob-of-another-workspace"
    secret.write_text("board papers")
    work = tmp_path / "work"
    work.mkdir()
    source = work / "hostile.txt"
    source.write_text(
        json.dumps(
            {
                "secret": str(secret),
                "environ": f"/proc/{os.getpid()}/environ",
                "outside": str(tmp_path / "planted"),
                "tcp_port": listeners["tcp_port"],
                "unix_path": str(listeners["unix_path"]),
                "server_pid": os.getpid(),
            }
        )
    )
    out = work / "out"
    out.mkdir()

    outcome = run_converter("test-escape", source, out)

    assert outcome.ok and outcome.result is not None, outcome.message
    attempts = json.loads(outcome.result.text)
    assert attempts.pop("write its output") == "allowed"
    assert attempts.pop("read its own file") == "allowed"
    refused = {name: result for name, result in attempts.items() if result != "allowed"}
    assert refused == attempts, f"allowed: {set(attempts) - set(refused)}"
    assert len(attempts) == 10
    assert not (tmp_path / "planted").exists()
    assert not _accepted(listeners["tcp"]) and not _accepted(listeners["unix"])
    assert set(outcome.confined) == set(LAYERS)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only")
def test_real_converters_work_shut_in(tmp_path: Path) -> None:
    """Every layer on, each format still converts (a PDF page is drawn, too)."""
    _kernel_can_confine()
    book = Workbook()
    book.active.append(["Ward", "Beds"])
    book.save(tmp_path / "b.xlsx")
    deck = Presentation()
    deck.slides.add_slide(deck.slide_layouts[1]).shapes.title.text = "Budget"
    deck.save(str(tmp_path / "s.pptx"))
    (tmp_path / "i.png").write_bytes(files.png_bytes())
    (tmp_path / "n.md").write_text("# Minutes\n\n*Agreed*")
    cases = {
        "docx": files.rich_docx(tmp_path / "m.docx"),
        "xlsx": tmp_path / "b.xlsx",
        "pptx": tmp_path / "s.pptx",
        "pdf": text_pdf(tmp_path / "p.pdf", ["One", "Two"]),
        "pdf-page-1": tmp_path / "p.pdf",
        "image": tmp_path / "i.png",
        "md": tmp_path / "n.md",
    }
    for fmt, source in cases.items():
        out = tmp_path / f"out-{fmt}"
        out.mkdir()
        outcome = run_converter(fmt, source, out)
        assert outcome.ok, (fmt, outcome.message)
        assert set(outcome.confined) == set(LAYERS), fmt


def test_a_missing_layer_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    core_sandbox._told_missing.clear()
    with caplog.at_level(logging.WARNING, logger="commonroom.core.sandbox"):
        assert core_sandbox.confinement(["no-new-privs"]) == ["no-new-privs"]
        core_sandbox.confinement(["no-new-privs"])
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1
    assert "landlock-files" in warnings[0] and "seccomp-network" in warnings[0]
    core_sandbox._told_missing.clear()


def test_required_confinement_refuses_to_convert_without_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """What the child answers when ``COMMONROOM_PREVIEW_CONFINE=required`` and the kernel lacks
    a layer: no preview, a sentence for people, the reason in the log."""
    answer = tmp_path / "answer.json"
    answer.write_text(
        json.dumps(
            {
                "ok": False,
                "message": "Previews are switched off on this server: it cannot shut the "
                "preview converter in.",
                "missing": ["landlock-files"],
                "confined": ["no-new-privs", "seccomp-network"],
            }
        )
    )
    out = tmp_path / "out"
    out.mkdir()
    with caplog.at_level(logging.ERROR, logger="commonroom.previews.sandbox"):
        outcome = sandbox._read_answer(answer, out)
    assert not outcome.ok and outcome.message.startswith("Previews are switched off")
    assert "landlock-files" in caplog.text


def test_the_mode_is_passed_to_the_child(tmp_path: Path, settings) -> None:
    settings.COMMONROOM_PREVIEW_CONFINE = "required"
    env = core_sandbox.child_env(sandbox.limits(5), tmp_path)
    assert env[core_sandbox.CONFINE_ENV] == "required"
    assert env["TMPDIR"] == str(tmp_path)
    settings.COMMONROOM_PREVIEW_CONFINE = "anything else"
    env = core_sandbox.child_env(sandbox.limits(5), tmp_path)
    assert env[core_sandbox.CONFINE_ENV] == "best-effort"


def test_a_data_directory_the_child_could_read_is_warned_about(settings, tmp_path: Path) -> None:
    from commonroom.previews.checks import data_dir_outside_what_previews_read

    settings.DATA_DIR = tmp_path / "var"
    assert data_dir_outside_what_previews_read() == []
    settings.DATA_DIR = Path(sys.prefix) / "var" / "commonroom"
    (warning,) = data_dir_outside_what_previews_read()
    assert warning.id == "previews.W001" and str(Path(sys.prefix).resolve()) in warning.msg
