"""A confined child for core's sandbox tests: it reads the file it was given and tries one it
was not, writes into its output folder, and can be made to sleep past its time."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from commonroom.core.sandbox_child import serve


def main(argv: list[str]) -> int:
    given, other, outdir, sleep = Path(argv[1]), Path(argv[2]), Path(argv[3]), float(argv[4])

    def work() -> dict[str, Any]:
        answer: dict[str, Any] = {"ok": True, "given": given.read_text()}
        try:
            other.read_text()
            answer["other"] = "read"
        except OSError:
            answer["other"] = "refused"
        (outdir / "written").write_text("out")
        time.sleep(sleep)
        return answer

    return serve(work, read_files=[given], write=[outdir])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
