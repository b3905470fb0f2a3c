"""The upload form on a full disk: the person reads "The server's storage is full. Nothing was
saved." where the progress bar was, and the same upload, sent again once there is room, is
stored once.

The server's upload temporary folder is a small tmpfs filled to the brim (small_disk.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_support import sign_in
from playwright.sync_api import expect

from commonroom.accounts.tests.factories import PASSWORD, UserFactory
from commonroom.core.tests.small_disk import files_under, fill, small_disk
from commonroom.documents.models import Document
from commonroom.workspaces.tests.factories import make_workspace


@pytest.fixture
def full_upload_temp(settings: Any) -> Iterator[Path]:
    with small_disk(256) as disk:
        temp = disk / "tmp"
        temp.mkdir()
        settings.FILE_UPLOAD_TEMP_DIR = str(temp)
        yield disk


def test_the_upload_form_says_the_storage_is_full_and_the_same_upload_works_later(
    asgi_server: Any, new_page: Any, page_problems: Any, full_upload_temp: Path
) -> None:
    priya = UserFactory(email="priya@example.org", full_name="Priya Shah")
    ws = make_workspace(manager=priya)
    page = new_page(priya.full_name)
    sign_in(page, priya.email, PASSWORD)
    page.goto(f"/w/{ws.pk}/")
    page.locator('input[type="file"][name="files"]').set_input_files(
        {"name": "rota.txt", "mimeType": "text/plain", "buffer": b"Ward 7 rota.\n" * 8_000}
    )
    filler = fill(full_upload_temp)
    page.get_by_role("button", name="Upload", exact=True).click()
    status = page.locator("#upload-status")
    expect(status).to_have_text("Not uploaded. The server's storage is full. Nothing was saved.")
    assert not Document.objects.filter(workspace=ws).exists()
    assert files_under(full_upload_temp) == ["filler"]

    filler.unlink()
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(page.locator("table.cr-files")).to_contain_text("rota.txt")
    assert Document.objects.filter(workspace=ws, name="rota.txt").count() == 1
    # The 507 is an answer the page shows, not a script or console error.
    assert [p for p in page_problems.seen if "507" not in p] == []
