"""bench.topology_load: the peak memory of the topology's processes, read through the pid files
scripts/topology.sh writes ("pid starttime"), children included; the percentiles of the
once-per-person figures; and the section the run writes."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from bench.topology_load import peaks, percentile, render

# A process with a child of its own, as nginx's master has its workers.
CHILD = (
    "import subprocess, sys, time; "
    "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)']); time.sleep(30)"
)


def test_peaks_reads_each_pid_file_and_the_children_of_its_process(tmp_path: Path) -> None:
    process = subprocess.Popen([sys.executable, "-c", CHILD])
    try:
        for _ in range(100):  # until the child has started
            children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text()
            if children.split():
                break
            time.sleep(0.05)
        start = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
        (tmp_path / "web1.pid").write_text(f"{process.pid} {start}\n")
        found = dict(peaks(tmp_path))
    finally:
        for kid in Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split():
            subprocess.run(["kill", kid], check=False)
        process.kill()
        process.wait()
    assert found["web1"] > 1024  # KiB: a Python process holds more than a MiB
    (child,) = [name for name in found if name != "web1"]
    assert child.startswith("web1: child `python")
    assert found[child] > 1024


def test_percentile_of_nothing_is_none_and_of_values_a_value() -> None:
    assert percentile([], 50) is None
    values = [float(n) for n in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile([7.0], 95) == 7.0


def test_render_names_each_request_type_its_errors_and_each_process() -> None:
    result = {
        "label": "Topology",
        "seconds": 30.0,
        "total": {"requests": 10, "failures": 1, "per_second": 0.3},
        "sockets": {
            "opened": 2,
            "failed": 0,
            "events": 5,
            "closed early": 0,
            "sign-ins limited": 1,
        },
        "rows": [
            {
                "name": "search",
                "requests": 10,
                "failures": 1,
                "per_second": 0.3,
                "p50": 20,
                "p95": 40,
                "p99": 60,
            },
        ],
        "once": [
            {
                "name": "sign in (post)",
                "requests": 2,
                "failures": 0,
                "p50": 150.0,
                "p95": 200.0,
                "p99": None,
            },
        ],
        "errors": [{"name": "search", "error": "answered 500", "count": 1}],
        "peaks": [("web1", 204800)],
    }
    text = render([result], ["A note."])
    assert "| search | 10 | 0.3 | 20 ms | 40 ms | 60 ms | 1 |" in text
    assert "| sign in (post) | 2 | 150 ms | 200 ms | - | 0 |" in text
    assert "| web1 | 200 MiB |" in text
    assert "answered 500" in text
    assert "**1 error**" in text
    assert "A note." in text
