"""A small upload in one process: Python calls and CPU per upload, without the server.

``bench.small_uploads.seed()``'s data, Django's test client, the API's two upload paths (a new
document, a new version of a document two others follow). ``calls``: cProfile's count of
Python calls per upload over 20 uploads after 10 unmeasured; with a pattern, the functions
matching it by cumulative calls (cProfile's timer counts calls, so its "time" columns are
calls too, each counted on entry and on return). ``cpu``: ``time.process_time`` per upload
in 6 blocks of 30 after 10 unmeasured, the lowest block and the median.

Run in a migrated, private data directory (it writes to it), e.g.::

    export DJANGO_SETTINGS_MODULE=commonroom.settings COMMONROOM_DATA_DIR=/tmp/calls-var \\
        COMMONROOM_DEBUG=0 COMMONROOM_MFA_REQUIRED=none ALLOWED_HOSTS=testserver
    python -m commonroom migrate --noinput -v 0
    PYTHONPATH=src python -m bench.upload_calls calls 'search/services'
    PYTHONPATH=src python -m bench.upload_calls cpu

On PostgreSQL, a database migrated for the run (the seed cannot be written twice: make it afresh
for each run, e.g. ``createdb -T`` a migrated template), borrowing from a pool as served::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/calls DB_POOL_SIZE=20 \\
        PYTHONPATH=src python -m bench.upload_calls calls 'search/services'

Django's test client keeps its connection between requests, so neither figure includes the
pool's loan and check of a connection that a served request pays (twice for an upload).
"""

from __future__ import annotations

import cProfile
import io
import itertools
import os
import pstats
import sys
import time
from collections.abc import Callable


def main(mode: str, pattern: str | None) -> None:
    import django

    django.setup()
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test import Client

    from bench.small_uploads import SIZE, seed

    seeded = seed()
    client = Client(HTTP_AUTHORIZATION=f"Bearer {seeded['token']}")
    ws, doc = seeded["workspace"], seeded["document"]
    made = [0]

    def body(name: str) -> SimpleUploadedFile:
        return SimpleUploadedFile(name, os.urandom(SIZE), content_type="text/plain")

    def new_document() -> None:
        made[0] += 1
        answer = client.post(
            f"/api/v1/workspaces/{ws}/documents", {"file": body(f"note-{made[0]:05d}.txt")}
        )
        assert answer.status_code == 201, answer.content

    def new_version() -> None:
        answer = client.post(
            f"/api/v1/workspaces/{ws}/documents/{doc}/versions",
            {"file": body("running-notes.txt")},
        )
        assert answer.status_code == 201, answer.content

    uploads: dict[str, Callable[[], None]] = {
        "new document": new_document,
        "new version": new_version,
    }
    for name, upload in uploads.items():
        for _ in range(10):
            upload()
        if mode == "calls":
            profile = cProfile.Profile(itertools.count().__next__)  # a tick per call, return
            profile.enable()
            for _ in range(20):
                upload()
            profile.disable()
            stats = pstats.Stats(profile)
            print(f"{name}: {stats.total_calls // 20:,} Python calls per upload")  # type: ignore[attr-defined]
            if pattern:
                out = io.StringIO()
                stats.stream = out  # type: ignore[attr-defined]
                stats.sort_stats("cumulative").print_stats(pattern, 40)
                print(out.getvalue())
        else:
            blocks = []
            for _ in range(6):
                start = time.process_time()
                for _ in range(30):
                    upload()
                blocks.append((time.process_time() - start) / 30 * 1000)
            blocks.sort()
            median = (blocks[2] + blocks[3]) / 2
            print(f"{name}: CPU per upload lowest {blocks[0]:.1f} ms, median {median:.1f} ms")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "calls", sys.argv[2] if len(sys.argv) > 2 else None)
