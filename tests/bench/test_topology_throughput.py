"""bench.topology_throughput and bench.topology: an app process's metric read from its
Prometheus page, the open-files limit raised for 1,000 sockets, each upload set between the
``dd`` runs either side of it, and the section the run writes."""

from __future__ import annotations

import resource

from bench.config import MIB
from bench.fanout import Run
from bench.topology import metric, raise_open_files
from bench.topology_throughput import Fanout, Stored, Uploads, render
from bench.upload import DdResult, UploadResult

PAGE = """\
# HELP commonroom_live_sockets Live websockets open in this process.
# TYPE commonroom_live_sockets gauge
commonroom_live_sockets 500.0
# TYPE commonroom_upload_bytes_total counter
commonroom_upload_bytes_total 1.073741824e+09
commonroom_upload_bytes_created 1.7e+09
commonroom_http_requests_total{method="GET",route="healthz",status="2xx"} 3.0
commonroom_http_requests_total{method="POST",route="documents",status="2xx"} 2.0
"""


def test_metric_reads_a_value_sums_labelled_series_and_says_when_missing() -> None:
    assert metric(PAGE, "commonroom_live_sockets") == 500.0
    assert metric(PAGE, "commonroom_upload_bytes_total") == 1024 * MIB
    assert metric(PAGE, "commonroom_http_requests_total") == 5.0
    assert metric(PAGE, "commonroom_upload_bytes") is None  # a prefix of a name is not it
    assert metric("", "commonroom_live_sockets") is None


def test_raise_open_files_never_lowers_the_limit_nor_passes_the_hard_one() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        assert raise_open_files(16) == soft  # already above: left alone
        raised = raise_open_files(soft + 100)
        assert raised == (soft + 100 if hard == resource.RLIM_INFINITY else min(soft + 100, hard))
        assert resource.getrlimit(resource.RLIMIT_NOFILE) == (raised, hard)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def stored(seconds: float, process: str = "web2") -> Stored:
    size = 1024 * MIB
    return Stored(
        result=UploadResult(
            size_bytes=size,
            seconds=seconds,
            sent_seconds=seconds - 3,
            server_cpu_seconds=6.0,
            server_loop_cpu_seconds=2.0,
            client_cpu_seconds=1.5,
            sha256="ab" * 32,
            rss_before_kib=80 * 1024,
            peak_kib=95 * 1024,
            rss_after_kib=85 * 1024,
        ),
        process=process,
        read_back_sha256="ab" * 32,
        read_back_seconds=4.0,
        cpu={"nginx": 1.0, "s3": 9.0, "web1": 0.1, "web2": 6.0},
    )


def test_each_upload_is_set_between_the_dd_runs_either_side_of_it() -> None:
    dd = [DdResult(1024 * MIB, s) for s in (2.0, 4.0, 2.0)]
    u = Uploads(dd_runs=dd, stored=[stored(6.0), stored(3.0)])
    first, second = u.rounds
    assert (first.dd_before, first.dd_after) == (dd[0], dd[1])
    assert (second.dd_before, second.dd_after) == (dd[1], dd[2])
    # The upload's speed over the mean of its dd runs' speeds: (1/6) / ((1/2 + 1/4) / 2).
    assert round(first.ratio, 3) == 0.444
    assert round(second.ratio, 3) == 0.889
    # An upload without a dd run after it is no round.
    assert len(Uploads(dd_runs=dd[:2], stored=[stored(6.0), stored(3.0)]).rounds) == 1


def test_render_reports_the_split_the_times_the_misses_and_each_round() -> None:
    run = Run(
        "Topology",
        1000,
        all_ms=[40.0, 60.0, 200.0],
        post_ms=[20.0, 22.0, 25.0],
        by_server={0: [30.0, 35.0], 1: [50.0, 190.0]},
        missed_sockets=0,
        server_cpu_ms=45.0,
        client_cpu_ms=30.0,
    )
    fanout = Fanout(run, {"web1": 500.0, "web2": None})
    upload = Uploads(
        disk="/dev/vda (ext4, mounted on /)",
        warmup=stored(1.0, "web1"),
        dd_runs=[DdResult(1024 * MIB, 2.0), DdResult(1024 * MIB, 2.0)],
        stored=[stored(8.0)],
    )
    text = render(fanout, upload, ["A note."], "1.00 / 2.00 / 3.00")
    split = "| Sockets on web1 / web2: opened / each process's count | 500 / 500: 500 / not read"
    assert split in text
    assert "**60 ms / 200 ms / 200 ms** (3 of 3 comments reached every socket" in text
    assert "| **Sockets that missed a comment** (goal 0) | **0** (0 deliveries missing" in text
    assert "| 30 ms / 35 ms / 35 ms |" in text  # web1's own sockets
    assert "| 50 ms / 190 ms / 190 ms |" in text  # web2's, through Redis
    assert "| 1 | 512 MiB/s | **128 MiB/s** (8.0 s) | 512 MiB/s | **0.25** |" in text
    assert (
        "| web2 | 6.00 s (2.00 + 4.00 s), 95 MiB (80 before) | 1.00 s, 9.00 s, 0.10 s, 6.00 s |"
        in (text)
    )
    assert "at the start 1.00 / 2.00 / 3.00" in text
    assert "A note." in text


def test_render_says_which_upload_failed_beside_the_rounds_before_it() -> None:
    upload = Uploads(
        warmup=stored(1.0),
        dd_runs=[DdResult(1024 * MIB, 2.0), DdResult(1024 * MIB, 2.0)],
        stored=[stored(8.0)],
        failed="upload 2 of 2: upload answered 503",
    )
    text = render(None, upload, [], "0.00 / 0.00 / 0.00")
    assert "| 1 | 512 MiB/s | **128 MiB/s** (8.0 s) |" in text
    assert "- **Failed**, upload 2 of 2: upload answered 503" in text
    failed_first = Uploads(warmup=stored(1.0), dd_runs=[DdResult(1024 * MIB, 2.0)], failed="x")
    assert "Not measured: x." in render(None, failed_first, [], "0.00 / 0.00 / 0.00")


def test_render_says_why_nothing_was_measured() -> None:
    text = render(None, Uploads(skipped="dd is not installed"), [], "0.00 / 0.00 / 0.00")
    assert "### Fan-out of a comment to every open socket\n\nNot measured in this run." in text
    assert "Not measured: dd is not installed." in text
