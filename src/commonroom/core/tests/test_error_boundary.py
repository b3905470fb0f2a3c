"""The HTML error boundary answers a page's script (HX-Request) in words, not with a page."""

from __future__ import annotations

from typing import Any


def test_a_refusal_to_a_pages_script_is_a_short_plain_message(team: Any, client: Any) -> None:
    client.force_login(team.outsider)
    url = f"/w/{team.workspace.pk}/"
    scripted = client.get(url, headers={"HX-Request": "true"})
    assert scripted.status_code == 404
    assert scripted["Content-Type"] == "text/plain; charset=utf-8"
    assert b"<" not in scripted.content
    assert scripted.content.strip()
    page = client.get(url)
    assert page.status_code == 404
    assert page["Content-Type"].startswith("text/html")
