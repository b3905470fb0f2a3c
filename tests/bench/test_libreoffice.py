"""bench.libreoffice: LibreOffice's conversions timed as the benchmarks compare with them, a
fresh profile each run or one profile kept and warmed by an uncounted first run. A stand-in
``soffice`` (a script that writes what LibreOffice would and notes its profile) runs here."""

from __future__ import annotations

import stat
from pathlib import Path

from bench.libreoffice import soffice_times

FAKE = """#!/bin/sh
# Notes the profile, then writes <outdir>/<source's name, with the new extension>.
for arg; do
  case "$arg" in -env:UserInstallation=*) echo "${arg#*=}" >> "$NOTES";; esac
done
while [ "$#" -gt 1 ]; do
  case "$1" in --convert-to) to="$2";; --outdir) outdir="$2";; esac
  shift
done
name=$(basename "$1"); echo converted > "$outdir/${name%.*}.$to"
exit "${FAIL:-0}"
"""


def fake_soffice(tmp_path: Path, monkeypatch, fail: bool = False) -> tuple[str, Path]:
    script = tmp_path / "soffice"
    script.write_text(FAKE)
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    notes = tmp_path / "profiles.txt"
    monkeypatch.setenv("NOTES", str(notes))
    monkeypatch.setenv("FAIL", "1" if fail else "0")
    return str(script), notes


def test_a_fresh_profile_each_run_or_one_kept_and_warmed_first(tmp_path, monkeypatch) -> None:
    soffice, notes = fake_soffice(tmp_path, monkeypatch)
    source = tmp_path / "report.docx"
    source.write_bytes(b"PK")
    said: list[str] = []
    fresh = soffice_times(soffice, source, "docx", tmp_path, runs=3, say=said.append)
    assert len(fresh.seconds) == 3 and fresh.median is not None and not fresh.error
    profiles = notes.read_text().split()
    assert len(set(profiles)) == 3  # a new one for every run, removed after it
    assert not any(Path(p.removeprefix("file://")).exists() for p in profiles)
    notes.unlink()
    kept = soffice_times(soffice, source, "docx", tmp_path, runs=3, kept=True, say=said.append)
    assert len(kept.seconds) == 3  # the warm-up ran but is not counted
    assert len(notes.read_text().split()) == 4 and len(set(notes.read_text().split())) == 1
    assert any("(kept profile), warm-up" in line for line in said)


def test_a_failed_conversion_is_an_error_with_no_median(tmp_path, monkeypatch) -> None:
    soffice, _ = fake_soffice(tmp_path, monkeypatch, fail=True)
    source = tmp_path / "report.docx"
    source.write_bytes(b"PK")
    timed = soffice_times(soffice, source, "pdf", tmp_path, runs=3, say=lambda line: None)
    assert timed.median is None and timed.error.startswith("exit 1, no output")
    assert timed.seconds == []
