"""The confined child runner, through a real child: it reads only what it was given, writes
only its output, answers with its layers, and is stopped at its wall-clock limit."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from commonroom.core.confine import LAYERS, landlock_abi
from commonroom.core.sandbox import Limits, run_child

MODULE = "commonroom.core.tests.confined_reader"


def _files(tmp_path: Path) -> tuple[Path, Path, Path, Path]:
    work = tmp_path / "work"
    outdir = work / "out"
    outdir.mkdir(parents=True)
    given = tmp_path / "given.txt"
    given.write_text("the file it works on")
    other = tmp_path / "other.txt"
    other.write_text("another workspace's file")
    return work, outdir, given, other


@pytest.mark.skipif(landlock_abi() < 6, reason="needs Landlock ABI 6 (Linux 6.12)")
def test_the_child_reads_only_what_it_was_given(tmp_path: Path) -> None:
    work, outdir, given, other = _files(tmp_path)
    run = run_child(
        MODULE,
        [str(given), str(other), str(outdir), "0"],
        work=work,
        limits=Limits(seconds=20, memory_mb=512, file_mb=1),
    )
    assert run.code == 0 and run.answer is not None, run.errors
    assert run.answer["given"] == "the file it works on"
    assert run.answer["other"] == "refused"
    assert (outdir / "written").read_text() == "out"
    assert set(run.confined) == set(LAYERS)


def test_a_child_past_its_time_is_stopped(tmp_path: Path) -> None:
    work, outdir, given, other = _files(tmp_path)
    started = time.monotonic()
    run = run_child(
        MODULE,
        [str(given), str(other), str(outdir), "60"],
        work=work,
        limits=Limits(seconds=2, memory_mb=512, file_mb=1),
    )
    assert run.timed_out and run.answer is None
    assert time.monotonic() - started < 15
