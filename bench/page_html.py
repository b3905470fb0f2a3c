"""``python -m bench.page_html DIR OUT``: the document page's HTML as each kind of reader sees
it, written to files, so that two trees' pages can be compared byte for byte (``diff -r``).

A change made for speed must not change what the page shows. Run this once with each tree's
``src`` on ``PYTHONPATH`` and the same ``DIR``: the first run seeds ``DIR`` (a data directory
of its own, SQLite) with :func:`bench.seed.seed` at a small size (``BENCH_DOCS``, default 200
documents; the heavy document of 50 versions, 200 comments in 40 threads and a preview, six
suggestions by a commenter, the first rejected, as ``bench.inprocess`` adds them) and an
external guest who may comment; every run then asks the heavy document's page as the
workspace's manager, a commenter, a viewer and the guest, each at three addresses (the page,
``?readers=3``, ``?readers=99``), twice each (the second drawn from what the first kept), and
writes each answer to ``OUT/<reader><address>-<n>.html``, with what differs on every request
by design set aside: the CSRF token and the reading token (signed with the time).

    # from this checkout (its bench/), each tree's src in turn:
    PYTHONPATH=/path/to/before/src:. python -m bench.page_html /tmp/pages /tmp/before
    PYTHONPATH=src:. python -m bench.page_html /tmp/pages /tmp/after
    diff -r /tmp/before /tmp/after && echo identical

Both runs must use the same ``DIR`` (and so the same data) and the same migrations. Nothing of
the pages' answers is timed here: ``bench.inprocess`` measures them.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

SECRET = "page-html-comparison-" + "k" * 40  # the same in both runs: signed values compare
PASSWORD = "page-html-" + "p" * 20
GUEST = "guest@outside.example.net"
ADDRESSES = [("", ""), ("-r3", "?readers=3"), ("-r99", "?readers=99")]
READERS = ["manager", "commenter", "viewer", "guest"]

# What differs on every request by design.
_CSRF = re.compile(r'(name="csrfmiddlewaretoken" value=")[^"]*(")')
_READING = re.compile(r'(data-reading-token=")[^"]*(")')


def set_aside(html: str) -> str:
    return _READING.sub(r"\1-\2", _CSRF.sub(r"\1-\2", html))


def environment(data_dir: Path) -> dict[str, str]:
    return {
        "DJANGO_SETTINGS_MODULE": "commonroom.settings",
        "COMMONROOM_DATA_DIR": str(data_dir),
        "SECRET_KEY": SECRET,
        "ALLOWED_HOSTS": "testserver",
        "COMMONROOM_DEBUG": "0",
        "COMMONROOM_MFA_REQUIRED": "none",
        "LOG_LEVEL": "WARNING",
    }


def seeded(data_dir: Path) -> dict[str, str]:
    """The readers and the page's address in ``data_dir``, seeding it first if it is new."""
    found = data_dir / "page_html.json"
    if found.exists():
        return dict(json.loads(found.read_text()))
    subprocess.run(
        [sys.executable, "-m", "commonroom", "migrate", "--noinput", "-v", "0"], check=True
    )
    import django

    django.setup()
    from django.contrib.auth import get_user_model

    from bench import seed
    from bench.inprocess import COMMENTER, add_suggestions
    from commonroom.accounts.models import UserKind
    from commonroom.workspaces.models import Membership, Role

    made = seed.seed(
        docs=int(os.environ.get("BENCH_DOCS", "") or 200), versions=5, password=PASSWORD
    )
    add_suggestions(made.manager_email, made.workspace_id, made.document_id, 6)
    viewer = (
        Membership.objects.filter(workspace_id=made.workspace_id, role=Role.VIEWER)
        .order_by("user__email")
        .values_list("user__email", flat=True)
        .first()
    )
    guest = get_user_model().objects.create_user(email=GUEST, password=PASSWORD)
    get_user_model().objects.filter(pk=guest.pk).update(kind=UserKind.GUEST)
    Membership.objects.create(workspace_id=made.workspace_id, user=guest, role=Role.COMMENTER)
    readers = {
        "path": f"/w/{made.workspace_id}/d/{made.document_id}/",
        "manager": made.manager_email,
        "commenter": COMMENTER,
        "viewer": str(viewer),
        "guest": GUEST,
    }
    found.write_text(json.dumps(readers))
    return readers


def main() -> None:
    if len(sys.argv) != 3:
        raise SystemExit("usage: python -m bench.page_html DATA_DIR OUT_DIR")
    data_dir, out = Path(sys.argv[1]), Path(sys.argv[2])
    data_dir.mkdir(parents=True, exist_ok=True)
    os.environ.update(environment(data_dir))
    readers = seeded(data_dir)
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.test import Client

    out.mkdir(parents=True, exist_ok=True)
    for reader in READERS:
        client: Any = Client()
        client.force_login(get_user_model().objects.get(email=readers[reader]))
        for suffix, query in ADDRESSES:
            for n in range(2):
                response = client.get(readers["path"] + query)
                if response.status_code != 200:
                    raise SystemExit(f"{reader}{suffix}: {response.status_code}")
                html = set_aside(response.content.decode())
                (out / f"{reader}{suffix}-{n}.html").write_text(html)
    print(f"{len(READERS) * len(ADDRESSES) * 2} pages written to {out}")


if __name__ == "__main__":
    main()
