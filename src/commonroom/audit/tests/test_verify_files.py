"""``commonroom audit verify --files``: every version's file is present with its recorded size."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from commonroom.documents.models import blob_storage_name
from commonroom.documents.tests.factories import new_version, upload


@pytest.fixture
def versions(team):
    first = upload(team.editor, team.workspace, "rota.txt", b"Monday: Priya\n")
    second = new_version(team.editor, first.document, b"Monday: Priya\nTuesday: Tom\n")
    return first, second


def stored(settings, version) -> Path:
    return Path(settings.MEDIA_ROOT) / blob_storage_name(version.blob_id)


def test_all_files_present_passes_and_says_so(versions):
    out = StringIO()
    call_command("audit", "verify", "--files", stdout=out)
    assert "ok: 2 versions, their 2 files present with the recorded sizes" in out.getvalue()


def test_without_files_the_files_are_not_looked_at(versions, settings):
    stored(settings, versions[0]).unlink()
    out = StringIO()
    call_command("audit", "verify", stdout=out)
    assert "versions" not in out.getvalue()


def test_a_missing_file_fails_naming_the_version(versions, settings):
    first, _ = versions
    stored(settings, first).unlink()
    out = StringIO()
    with pytest.raises(CommandError, match="1 of 2 versions have a missing or wrong-sized file"):
        call_command("audit", "verify", "--files", stdout=out)
    assert (
        f"document {first.document_id} version 1: its file (blob {first.blob_id}) is missing"
        in out.getvalue()
    )


def test_a_file_of_another_size_fails(versions, settings):
    _, second = versions
    stored(settings, second).write_bytes(b"cut short")
    out = StringIO()
    with pytest.raises(CommandError, match="1 of 2 versions"):
        call_command("audit", "verify", "--files", stdout=out)
    assert f"version 2: its file (blob {second.blob_id}) has 9 bytes, the version records" in (
        out.getvalue()
    )


def test_every_apps_check_runs_and_each_failure_is_said(versions, monkeypatch):
    """Audit runs what each app added (documents' versions here), not only documents'."""
    from commonroom.audit import files

    def drawings() -> files.FilesResult:
        return files.FilesResult(
            passed="3 drawings present",
            failed="1 of 3 drawings missing",
            problems=["drawing 7: its file is missing"],
        )

    monkeypatch.setattr(files, "_checks", [*files._checks, drawings])
    out = StringIO()
    with pytest.raises(CommandError, match=r"^1 of 3 drawings missing$"):
        call_command("audit", "verify", "--files", stdout=out)
    assert "drawing 7: its file is missing" in out.getvalue()

    monkeypatch.setattr(
        files, "_checks", [*files._checks[:-1], lambda: files.FilesResult("x", "y")]
    )
    out = StringIO()
    call_command("audit", "verify", "--files", stdout=out)
    said = out.getvalue()
    assert "ok: 2 versions, their 2 files present with the recorded sizes" in said
    assert "ok: x" in said
