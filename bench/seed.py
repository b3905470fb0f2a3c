"""Data for the page benchmark, written in this process through the project's own code.

The demo (people and its workspace) and the benchmark workspace are made by the real services;
the bulk of documents and versions by ``bulk_create`` so that 1,000 x 5 takes seconds. Versions
share a few dozen real, stored blobs of varied sizes, are written by three different people over
a year, and now and then cross (based on a version that was not the latest), as real ones do.
Call only after ``django.setup()``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone

from commonroom.accounts.models import TokenScope
from commonroom.accounts.services import token_create
from commonroom.demo.seed import seed_demo
from commonroom.documents.models import Blob, Document, Version
from commonroom.documents.services import blob_store
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


@dataclass(frozen=True)
class Seeded:
    manager_email: str
    password: str
    token: str
    workspace_id: str
    document_id: str
    listed_document_name: str  # a name the first page of the listing shows
    demo_workspace_id: str
    demo_document_id: str
    documents: int
    versions: int


def _blobs(rng: random.Random) -> list[Blob]:
    """A few dozen stored blobs between 20 KB and 2 MB, like the office files they stand for."""
    blobs = []
    for i in range(BLOBS):
        size = int(20_000 * (100 ** (i / (BLOBS - 1))))  # 20 KB ... 2 MB, spread evenly in log
        data = rng.randbytes(size)
        blobs.append(blob_store(uploaded=SimpleUploadedFile(f"seed-{i}.docx", data)))
    return blobs


def seed(*, docs: int, versions: int, password: str) -> Seeded:
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
        blobs = _blobs(rng)
        now = timezone.now()
        documents: list[Document] = []
        rows: list[Version] = []
        for i in range(docs):
            name = f"{i + 1:04d} {TOPICS[i % len(TOPICS)]}.docx"
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
    middle = documents[len(documents) // 2] if documents else None
    demo_doc: Any = Document.objects.filter(workspace=demo.workspace).first()
    return Seeded(
        manager_email=MANAGER,
        password=password,
        token=issued.secret,
        workspace_id=str(ws.pk),
        document_id=str(middle.pk) if middle else "",
        listed_document_name=min((d.name for d in documents), default=""),
        demo_workspace_id=str(demo.workspace.pk),
        demo_document_id=str(demo_doc.pk) if demo_doc else "",
        documents=len(documents),
        versions=len(rows),
    )
