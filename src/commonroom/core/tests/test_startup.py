"""core.startup finds each app's serve-start steps without naming the apps."""

from __future__ import annotations

import os
import time

from django.conf import settings

from commonroom.core.startup import serve_start, serve_start_steps
from commonroom.documents.startup import sweep_upload_temporaries


def test_serve_start_steps_are_found_in_the_apps() -> None:
    assert sweep_upload_temporaries in serve_start_steps()


def test_serve_start_removes_an_upload_temporary_a_crash_left(db: None) -> None:
    folder = settings.FILE_UPLOAD_TEMP_DIR
    os.makedirs(folder, exist_ok=True)
    left = os.path.join(folder, "commonroom-upload-crashed.upload")
    with open(left, "wb") as f:
        f.write(b"half an upload")
    old = time.time() - 7 * 24 * 3600
    os.utime(left, (old, old))
    serve_start()
    assert not os.path.exists(left)
