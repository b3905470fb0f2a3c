"""The endpoint as served for real: ``commonroom serve`` processes on the test database,
spoken to over loopback HTTP. The litmus WebDAV conformance suite, every group; locks shared by
two server processes; a body cut off halfway; Office's questions before it signs in."""

from __future__ import annotations

import base64
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest

from commonroom.accounts.tests.factories import UserFactory
from commonroom.core.tests.serving import serving, serving_many
from commonroom.documents.models import Document
from commonroom.webdav.tests.client import token_for
from commonroom.workspaces.tests.factories import add_member, make_workspace, upload_document

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="serve is for Linux"),
]

LOCK_BODY = (
    b'<?xml version="1.0" encoding="utf-8"?><D:lockinfo xmlns:D="DAV:">'
    b"<D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype>"
    b"<D:owner>someone</D:owner></D:lockinfo>"
)


def _litmus() -> str:
    found = shutil.which("litmus")
    if found is None:
        message = "!!! litmus is not installed (make litmus): the conformance suite was SKIPPED !!!"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true: a missing litmus is a failure. {message}")
        pytest.skip(message)
    return found


def test_litmus_passes_every_group_with_an_app_password(tmp_path: Path) -> None:
    litmus = _litmus()
    tom = UserFactory(email="tom@example.org")
    make_workspace(manager=tom, name="Litmus")
    secret = token_for(tom)
    with serving(tmp_path, "--no-worker") as served:
        run = subprocess.run(
            [litmus, "-k", f"{served.url}/dav/Litmus/", str(tom.email), secret],
            env={**os.environ, "TESTS": "basic copymove props locks http"},
            capture_output=True,
            text=True,
            timeout=600,
            cwd=tmp_path,
        )
    output = run.stdout + run.stderr
    summaries = re.findall(
        r"<- summary for `(\w+)': of (\d+) tests run: (\d+) passed, (\d+) failed", output
    )
    print("\n".join(line for line in output.splitlines() if "summary" in line or "WARNING" in line))
    assert {group for group, *_ in summaries} == {"basic", "copymove", "props", "locks", "http"}, (
        output
    )
    assert all(failed == "0" for *_, failed in summaries), output
    assert all(run_ == passed for _, run_, passed, _f in summaries), output


def test_a_lock_taken_through_one_server_holds_on_another(tmp_path: Path) -> None:
    priya = UserFactory(email="priya@example.org")
    ws = make_workspace(manager=priya, name="Board")
    tom = add_member(ws, UserFactory(email="tom@example.org"), "editor")
    doc = upload_document(ws, priya, name="minutes.docx", content=b"v1")
    tom_auth = (str(tom.email), token_for(tom))
    priya_auth = (str(priya.email), token_for(priya))
    with serving_many(tmp_path, 2, "--no-worker") as (one, two):
        locked = httpx.request(
            "LOCK", f"{one.url}/dav/Board/minutes.docx", content=LOCK_BODY, auth=tom_auth
        )
        assert locked.status_code == 200
        refused = httpx.put(f"{two.url}/dav/Board/minutes.docx", content=b"P", auth=priya_auth)
        assert refused.status_code == 423
        token = locked.headers["Lock-Token"]
        saved = httpx.put(
            f"{two.url}/dav/Board/minutes.docx",
            content=b"v2",
            auth=tom_auth,
            headers={"If": f"({token})"},
        )
        assert saved.status_code == 204

        # Two people asking two servers for the same lock at the same moment: one gets it.
        other = upload_document(ws, priya, name="agenda.docx", content=b"a")
        answers: list[int] = []
        start = threading.Barrier(2)

        def ask(url: str, auth: Any) -> None:
            start.wait()
            answers.append(
                httpx.request(
                    "LOCK",
                    f"{url}/dav/Board/agenda.docx",
                    content=LOCK_BODY,
                    auth=auth,
                    timeout=30,
                ).status_code
            )

        threads = [
            threading.Thread(target=ask, args=(one.url, tom_auth)),
            threading.Thread(target=ask, args=(two.url, priya_auth)),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(answers) == [200, 423]
    assert doc.versions.count() == 2
    assert other.versions.count() == 1


def test_a_put_cut_off_halfway_keeps_nothing(tmp_path: Path) -> None:
    tom = UserFactory(email="tom@example.org")
    make_workspace(manager=tom, name="Board")
    secret = token_for(tom)
    auth = httpx.BasicAuth(str(tom.email), secret)
    authorization = "Basic " + base64.b64encode(f"{tom.email}:{secret}".encode()).decode()
    with serving(tmp_path, "--no-worker") as served:
        address = urlparse(served.url)
        with socket.create_connection((address.hostname, address.port or 80)) as sock:
            sock.sendall(
                b"PUT /dav/Board/half.bin HTTP/1.1\r\n"
                + f"Host: {address.netloc}\r\nAuthorization: {authorization}\r\n".encode()
                + b"Content-Length: 4000000\r\n\r\n"
                + b"x" * 1_000_000
            )
        # The server notices the client is gone; nothing is made of half a file (the empty
        # placeholder its name had while the body came goes too).
        deadline = time.monotonic() + 20
        while True:
            listing = httpx.request(
                "PROPFIND", f"{served.url}/dav/Board/", headers={"Depth": "1"}, auth=auth
            )
            if "half.bin" not in listing.text or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        whole = httpx.put(f"{served.url}/dav/Board/whole.bin", content=b"y" * 3_000_000, auth=auth)
    assert listing.status_code == 207
    assert "half.bin" not in listing.text
    assert whole.status_code == 201
    assert list(Document.objects.values_list("name", flat=True)) == ["whole.bin"]


def test_office_asks_the_sites_root_and_the_folder_before_it_signs_in(tmp_path: Path) -> None:
    with serving(tmp_path, "--no-worker") as served:
        root = httpx.request("OPTIONS", f"{served.url}/")
        folder = httpx.request(
            "OPTIONS", f"{served.url}/dav/Board/", headers={"Authorization": "Bearer"}
        )
        propfind = httpx.request("PROPFIND", f"{served.url}/dav/", headers={"Depth": "0"})
    for response in (root, folder):
        assert response.status_code == 200
        assert response.headers["MS-Author-Via"] == "DAV"
        assert response.headers["DAV"] == "1,2"
    assert propfind.status_code == 401
    assert propfind.headers["WWW-Authenticate"].startswith('Basic realm="Commonroom"')
