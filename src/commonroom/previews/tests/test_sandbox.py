"""Hostile and misbehaving files, through the real sandbox (a child process): each fails safely,
quickly, with a sentence for people, and never raises."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from commonroom.previews.convert import TEST_CONVERTERS_ENV
from commonroom.previews.sandbox import Outcome, run_converter
from commonroom.previews.tests import files


def convert(fmt: str, source: Path, **kw: int) -> Outcome:
    out = source.parent / f"out-{source.name}"
    out.mkdir()
    return run_converter(fmt, source, out, **kw)


@pytest.fixture(scope="module")
def bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return files.zip_bomb_docx(tmp_path_factory.mktemp("bomb") / "bomb.docx")


@pytest.fixture
def misbehaving(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TEST_CONVERTERS_ENV, "1")


def test_a_docx_zip_bomb_is_refused_before_expansion(bomb: Path) -> None:
    assert bomb.stat().st_size < 5 * 1024 * 1024  # ~1 GB of zeros inside
    started = time.monotonic()
    outcome = convert("docx", bomb)
    assert time.monotonic() - started < 5
    assert not outcome.ok
    assert outcome.message == "The file expands to far more than its size: it is not previewed."


def test_a_zip_bomb_with_lying_sizes_is_still_bounded(tmp_path: Path, bomb: Path) -> None:
    """A zip whose directory claims a tiny member: reading it stops at the claimed size (and its
    checksum then fails), so memory stays bounded whatever the member really holds."""
    import struct

    data = bytearray(bomb.read_bytes())
    # Patch the central directory entry of the zeros member to claim 1 KB uncompressed.
    name = b"customXml/zeros.xml"
    central = data.rfind(b"PK\x01\x02", 0, data.rfind(name))
    assert struct.unpack_from("<I", data, central + 24)[0] == 1024**3
    struct.pack_into("<I", data, central + 24, 1024)
    liar = tmp_path / "liar.docx"
    liar.write_bytes(bytes(data))
    started = time.monotonic()
    outcome = convert("docx", liar)
    assert time.monotonic() - started < 10
    assert not outcome.ok
    assert outcome.message == "The file is damaged."


@pytest.mark.parametrize("external", [False, True], ids=["billion-laughs", "external-entity"])
def test_xml_entities_are_refused(tmp_path: Path, external: bool) -> None:
    outcome = convert("docx", files.entity_docx(tmp_path / "e.docx", external=external))
    assert not outcome.ok
    assert "entity declarations" in outcome.message
    assert outcome.seconds < 10


def test_a_truncated_docx_fails_with_a_message(tmp_path: Path) -> None:
    whole = files.rich_docx(tmp_path / "whole.docx")
    outcome = convert("docx", files.truncated(tmp_path / "half.docx", whole))
    assert not outcome.ok
    assert "damaged" in outcome.message


def test_a_converter_past_the_time_limit_is_stopped(tmp_path: Path, misbehaving: None) -> None:
    source = tmp_path / "x.txt"
    source.write_text("x")
    started = time.monotonic()
    outcome = convert("test-sleep", source, timeout=2)
    assert time.monotonic() - started < 8
    assert not outcome.ok
    assert outcome.message == (
        "The preview took too long to make (over 2 seconds) and was stopped."
    )


def test_a_converter_asking_for_too_much_memory_is_refused(
    tmp_path: Path, misbehaving: None, settings
) -> None:
    settings.COMMONROOM_PREVIEW_MEMORY_MB = 256
    source = tmp_path / "x.txt"
    source.write_text("x")
    outcome = convert("test-allocate", source, timeout=30)
    assert not outcome.ok
    assert outcome.message in {
        "The file needs too much memory to preview.",
        "The preview was stopped: it needed too much time or memory.",
    }


def test_a_crashing_converter_becomes_a_message(tmp_path: Path, misbehaving: None) -> None:
    source = tmp_path / "x.txt"
    source.write_text("x")
    outcome = convert("test-crash", source)
    assert not outcome.ok
    assert outcome.message == "The preview could not be made: the converter stopped unexpectedly."


def test_what_a_library_prints_does_not_spoil_the_answer(tmp_path: Path, misbehaving: None) -> None:
    source = tmp_path / "x.txt"
    source.write_text("x")
    outcome = convert("test-noisy", source)
    assert outcome.ok and outcome.result is not None
    assert outcome.result.html == '<p id="p-1">quiet</p>'


def test_the_app_cleans_the_html_a_taken_over_child_answers(
    tmp_path: Path, misbehaving: None
) -> None:
    """The child parses hostile files; if one took it over, its answer is still sanitised in
    the app before anyone sees it. Anchors and lazy page images survive."""
    source = tmp_path / "x.txt"
    source.write_text("x")
    outcome = convert("test-hostile", source)
    assert outcome.ok and outcome.result is not None
    html = outcome.result.html
    for bad in ("script", "onclick", "onerror", "javascript:", "steal()", 'id="evil"'):
        assert bad not in html, bad
    assert '<p id="p-1">Hi</p>' in html
    assert 'loading="lazy"' in html and 'src="{{file:page-1.png}}"' in html


def test_test_converters_are_not_offered_outside_tests(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv(TEST_CONVERTERS_ENV, raising=False)
    source = tmp_path / "x.txt"
    source.write_text("x")
    outcome = convert("test-crash", source)
    assert not outcome.ok
    assert outcome.message == "There is no preview for this kind of file."


def test_a_docx_through_the_sandbox(tmp_path: Path) -> None:
    outcome = convert("docx", files.rich_docx(tmp_path / "m.docx"))
    assert outcome.ok and outcome.result is not None
    assert [f.name for f in outcome.result.files] == ["image1.png"]
    assert outcome.seconds > 0
