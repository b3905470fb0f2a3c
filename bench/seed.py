"""Data for the page benchmark, written in this process through the project's own code.

The demo (people and its workspace) and the benchmark workspace are made by the real services;
the bulk of documents, versions, members and comments by ``bulk_create`` so that 10,000 x 5
takes seconds. Versions share a few dozen real, stored blobs of varied sizes, are written by
three different people over a year, and now and then cross (based on a version that was not the
latest), as real ones do. The workspace has ``members`` members (most of them readers and
commenters, a few editors and managers).

Beside them, one heavy document for the document page: ``heavy_versions`` versions (default 50),
the last two real Word files whose previews are made by the preview pipeline itself (the
converter in its confined child, as the worker would), and ``heavy_comments`` comments (200) in
``heavy_threads`` threads (40), each anchored to a passage of its version's preview, some
resolved, some replies edited or deleted; the threads on the older of the two versions have
their passages followed into the latest by the comments app's own code
(``comments.services.passages_follow``). Call only after ``django.setup()``.
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone
from docx import Document as DocxDocument

from commonroom.accounts.models import TokenScope
from commonroom.accounts.services import token_create
from commonroom.comments.models import Comment
from commonroom.comments.services import passages_follow
from commonroom.core.markup import render
from commonroom.demo.seed import seed_demo
from commonroom.documents.models import Blob, Document, Version
from commonroom.documents.services import blob_store
from commonroom.previews.blocks import Block
from commonroom.previews.selectors import preview_outcome
from commonroom.previews.services import preview_make, preview_requested
from commonroom.workspaces.models import Membership, Role
from commonroom.workspaces.services import workspace_create

MANAGER = "priya@example.org"
BLOBS = 40
TOPICS = [
    "Finance report",
    "Board minutes",
    "Quality and safety dashboard",
    "Workforce plan",
    "Estates strategy",
    "Risk register",
    "Audit committee paper",
    "Patient experience survey",
]
NOTES = ["", "", "Typos fixed", "Figures updated after finance review", "Comments from the chair"]
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
HEAVY_NAME = "0000 Board pack, annual plan.docx"
# The other members' roles, in proportion: a trust-wide workspace is mostly readers.
MEMBER_ROLES = [Role.VIEWER] * 6 + [Role.COMMENTER] * 3 + [Role.EDITOR]
REMARKS = [
    "Can we check this figure against the month 7 return?",
    "Agreed, **subject to** the finance committee's review.",
    "This paragraph repeats the one above: suggest we cut it.",
    "The chair asked for the risk to be scored again before the board.",
    "See the workforce plan for the agency figures; they differ.",
    "Happy with this wording.",
    "Could we add the comparison with last year?",
    "Please spell out the acronym the first time it is used.",
]


@dataclass(frozen=True)
class Seeded:
    manager_email: str
    password: str
    token: str
    workspace_id: str
    document_id: str  # the heavy document, for the document page
    listed_document_name: str  # a name the first page of the listing shows
    demo_workspace_id: str
    demo_document_id: str
    documents: int
    versions: int
    members: int
    heavy_versions: int
    heavy_comments: int
    heavy_threads: int
    heavy_preview: str  # the status of its latest version's preview


def _blobs(rng: random.Random) -> list[Blob]:
    """A few dozen stored blobs between 20 KB and 2 MB, like the office files they stand for."""
    blobs = []
    for i in range(BLOBS):
        size = int(20_000 * (100 ** (i / (BLOBS - 1))))  # 20 KB ... 2 MB, spread evenly in log
        data = rng.randbytes(size)
        blobs.append(blob_store(uploaded=SimpleUploadedFile(f"seed-{i}.docx", data)))
    return blobs


def _board_pack(*, amended: bool) -> bytes:
    """A real Word file of some length: headings, paragraphs and a table, as a board pack."""
    doc = DocxDocument()
    doc.add_heading("Annual plan 2027/28: board pack", level=1)
    for section in range(1, 13):
        doc.add_heading(f"{section}. {TOPICS[section % len(TOPICS)]}", level=2)
        for n in range(4):
            figure = 2.4 + section / 10 + (0.2 if amended and n == 1 else 0)
            doc.add_paragraph(
                f"Paragraph {section}.{n + 1}: the trust reported a position of £{figure:.1f}m "
                f"against a plan of £1.9m for {TOPICS[(section + n) % len(TOPICS)].lower()}, "
                "with the actions agreed at the last meeting and their owners named below."
            )
    table = doc.add_table(rows=1, cols=3)
    table.rows[0].cells[0].text, table.rows[0].cells[1].text = "Division", "Plan (£k)"
    table.rows[0].cells[2].text = "Actual (£k)"
    for division in ["Medicine", "Surgery", "Community", "Women and children"]:
        row = table.add_row().cells
        row[0].text, row[1].text, row[2].text = division, "-600", "-790" if amended else "-700"
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def _members(ws: Any, count: int, rng: random.Random) -> None:
    """Fill the workspace up to ``count`` members with people who never sign in here."""
    User = get_user_model()
    have = Membership.objects.filter(workspace=ws).count()
    people = []
    for n in range(max(0, count - have)):
        person = User(email=f"member-{n:04d}@members.example.org", full_name=f"Member {n:04d}")
        person.set_unusable_password()
        people.append(person)
    User.objects.bulk_create(people, batch_size=500)
    made = User.objects.filter(email__endswith="@members.example.org")
    Membership.objects.bulk_create(
        [Membership(workspace=ws, user=u, role=rng.choice(MEMBER_ROLES)) for u in made],
        batch_size=500,
    )


def _passages(blocks: list[Block] | None) -> list[Block]:
    return [b for b in blocks or [] if len(b.own) > 40 and not b.aside]


def _heavy_document(
    ws: Any,
    *,
    versions: int,
    threads: int,
    comments: int,
    blobs: list[Blob],
    authors: list[Any],
    rng: random.Random,
) -> tuple[Document, str]:
    """The document page's document (see the module); its latest preview's status."""
    now = timezone.now()
    created = now - timedelta(days=200)
    files = [
        blob_store(uploaded=SimpleUploadedFile("pack.docx", _board_pack(amended=amended)))
        for amended in (False, True)
    ]
    with transaction.atomic():
        doc = Document.objects.create(
            workspace=ws,
            name=HEAVY_NAME,
            created_by=authors[0],
            created_at=created,
            current_version_number=versions,
        )
        rows = []
        for number in range(1, versions + 1):
            real = number - (versions - 1)  # the last two versions are the real Word files
            blob = files[real] if real >= 0 else blobs[rng.randrange(BLOBS)]
            rows.append(
                Version(
                    document=doc,
                    number=number,
                    blob=blob,
                    filename=HEAVY_NAME,
                    content_type=DOCX,
                    size=blob.size,
                    author=authors[number % len(authors)],
                    created_at=created + timedelta(days=number * 3),
                    note=rng.choice(NOTES),
                    based_on_number=number - 1 or None,
                )
            )
        Version.objects.bulk_create(rows)
        doc.updated_at = rows[-1].created_at
        doc.save(update_fields=["updated_at"])
        real_versions = [v for v in rows if v.blob_id in {f.sha256 for f in files}]
        for version in real_versions:
            preview_requested(version=version)
    # The previews made as the worker makes them: the converter in its confined child.
    for version in real_versions:
        preview_make(sha=version.blob_id)
    status = str(doc.versions.get(number=versions).blob.preview.status)
    # Threads on the two real versions, anchored to passages of their previews.
    roots: list[Comment] = []
    replies: list[Comment] = []
    for t in range(threads):
        version = real_versions[t % len(real_versions)]
        blocks = _passages(preview_outcome(version.blob_id, workspace_id=ws.pk)[1])
        when = version.created_at + timedelta(hours=t + 1)
        text = rng.choice(REMARKS)
        anchor: dict[str, Any] = {}
        if blocks:
            block = blocks[(t * 7) % len(blocks)]
            start = rng.randrange(0, 20)
            end = start + rng.randrange(12, 30)
            anchor = {
                "anchor_quote": block.own[start:end],
                "anchor_position": {"block": block.id, "start": start, "end": end},
            }
        root = Comment(
            document=doc,
            version=version,
            author=authors[t % len(authors)],
            body=text,
            body_html=render(text).html,
            created_at=when,
            resolved_at=when + timedelta(days=2) if t % 4 == 3 else None,
            resolved_by=authors[0] if t % 4 == 3 else None,
            **anchor,
        )
        roots.append(root)
    for c in range(comments - len(roots)):
        root = roots[c % len(roots)]
        text = rng.choice(REMARKS)
        when = root.created_at + timedelta(minutes=30 * (c // len(roots) + 1))
        replies.append(
            Comment(
                document=doc,
                version=root.version,
                thread=root,
                author=authors[(c + 1) % len(authors)],
                body=text,
                body_html=render(text).html,
                created_at=when,
                edited_at=when + timedelta(minutes=5) if c % 11 == 5 else None,
                deleted_at=when + timedelta(hours=1) if c % 23 == 7 else None,
                deleted_by=authors[(c + 1) % len(authors)] if c % 23 == 7 else None,
            )
        )
    Comment.objects.bulk_create(roots + replies, batch_size=500)
    # Where the older version's passages are in the latest, as after a real upload.
    passages_follow(sha256=real_versions[-1].blob_id, document_id=doc.pk)
    return doc, status


def seed(
    *,
    docs: int,
    versions: int,
    password: str,
    members: int = 300,
    heavy_versions: int = 50,
    heavy_threads: int = 40,
    heavy_comments: int = 200,
) -> Seeded:
    rng = random.Random(2)
    demo = seed_demo(password=password)
    User = get_user_model()
    people = {u.email: u for u in User.objects.filter(email__endswith="@example.org")}
    manager = people[MANAGER]
    authors = [manager, people["tom@example.org"], people["sam@example.org"]]
    issued = token_create(actor=manager, name="benchmark", scope=TokenScope.WRITE)
    with transaction.atomic():
        ws = workspace_create(
            actor=manager,
            name=f"Benchmark: {docs:,} documents",
            description="Board papers for the benchmark, each in several versions.",
        )
        for email, role in [
            ("tom@example.org", Role.EDITOR),
            ("sam@example.org", Role.COMMENTER),
            ("aisha@example.org", Role.COMMENTER),
        ]:
            Membership.objects.create(workspace=ws, user=people[email], role=role)
        _members(ws, members, rng)
        blobs = _blobs(rng)
        now = timezone.now()
        documents: list[Document] = []
        rows: list[Version] = []
        for i in range(docs):
            name = f"{i + 1:05d} {TOPICS[i % len(TOPICS)]}.docx"
            created = now - timedelta(days=365) + timedelta(minutes=rng.randrange(60 * 24 * 300))
            doc = Document(
                workspace=ws,
                name=name,
                created_by=manager,
                created_at=created,
                updated_at=created,
                current_version_number=versions,
            )
            documents.append(doc)
            when = created
            for number in range(1, versions + 1):
                when = when + timedelta(hours=rng.randrange(1, 24 * 7))
                blob = blobs[rng.randrange(BLOBS)]
                crossed = number > 2 and rng.random() < 0.03
                rows.append(
                    Version(
                        document=doc,
                        number=number,
                        blob=blob,
                        filename=name,
                        content_type=DOCX,
                        size=blob.size,
                        author=authors[(i + number) % len(authors)],
                        created_at=when,
                        note=rng.choice(NOTES),
                        based_on_number=(number - 2 if crossed else number - 1) or None,
                        based_on_latest=not crossed,
                    )
                )
            doc.updated_at = when
        Document.objects.bulk_create(documents, batch_size=500)
        Version.objects.bulk_create(rows, batch_size=500)
    heavy, preview_status = _heavy_document(
        ws,
        versions=heavy_versions,
        threads=heavy_threads,
        comments=heavy_comments,
        blobs=blobs,
        authors=authors,
        rng=rng,
    )
    demo_doc: Any = Document.objects.filter(workspace=demo.workspace).first()
    return Seeded(
        manager_email=MANAGER,
        password=password,
        token=issued.secret,
        workspace_id=str(ws.pk),
        document_id=str(heavy.pk),
        listed_document_name=min((d.name for d in documents), default=HEAVY_NAME),
        demo_workspace_id=str(demo.workspace.pk),
        demo_document_id=str(demo_doc.pk) if demo_doc else "",
        documents=len(documents) + 1,
        versions=len(rows) + heavy_versions,
        members=Membership.objects.filter(workspace=ws).count(),
        heavy_versions=heavy_versions,
        heavy_comments=heavy_comments,
        heavy_threads=heavy_threads,
        heavy_preview=preview_status,
    )
