"""An uploaded JavaScript file cannot run as this site's own script: a page of the site that
includes its download with ``<script src>`` (as an injection someday might) gets it refused by
the browser, as a classic script and as a module, and nothing in it runs."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse
from e2e_support import sign_in

from commonroom.accounts.tests.factories import PASSWORD, UserFactory
from commonroom.workspaces.tests.factories import make_workspace, upload_document

PAYLOAD = b"window.crUploadRan = true;\n"
INCLUDE = """async ([src, module]) => {
  const script = document.createElement("script");
  if (module) script.type = "module";
  script.src = src;
  const outcome = await new Promise((resolve) => {
    script.onload = () => resolve("loaded");
    script.onerror = () => resolve("refused");
    document.head.append(script);
  });
  await new Promise((resolve) => setTimeout(resolve, 200));
  return [outcome, window.crUploadRan === true];
}"""


@pytest.mark.parametrize(("name", "module"), [("widget.js", False), ("module.mjs", True)])
def test_an_uploaded_script_included_by_a_page_of_the_site_is_refused(
    new_page: Any, page_problems: Any, name: str, module: bool
) -> None:
    priya = UserFactory(email="priya@example.org", full_name="Priya Shah")
    ws = make_workspace(manager=priya)
    doc = upload_document(ws, priya, name=name, content=PAYLOAD)
    page = new_page("Priya")
    sign_in(page, priya.email, PASSWORD)
    page.goto(f"/w/{ws.pk}/d/{doc.pk}/")
    download = reverse("version_download", args=[ws.pk, doc.pk, 1])
    assert page.request.get(download).body() == PAYLOAD  # the URL is right and answers

    outcome, ran = page.evaluate(INCLUDE, [download, module])

    assert ran is False
    assert outcome == "refused"
    assert any("application/octet-stream" in seen for seen in page_problems.seen), (
        page_problems.seen
    )
