"""Documents with ready previews, and suggestions made on them, through the real services.

A preview is made by the preview's own converter (the function the sandboxed child runs),
called in the test's process: the same HTML as a worker would store, without a worker."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path
from typing import Any

from django.utils import timezone

from commonroom.documents.selectors import document_access
from commonroom.documents.tests.factories import upload
from commonroom.previews.blocks import blocks_in, utf16_length
from commonroom.previews.convert import converter_for, format_for
from commonroom.previews.models import Preview, PreviewStatus, WorkspacePreview
from commonroom.suggestions import services
from commonroom.suggestions.models import Suggestion
from commonroom.suggestions.passages import usable_text


def access(user: Any, doc: Any) -> Any:
    return document_access(user=user, workspace_id=doc.workspace_id, document_id=doc.pk)


def make_preview(version: Any) -> None:
    """``version``'s preview, ready, as the worker would have made it."""
    from django.core.files.storage import default_storage

    fmt = format_for(version.content_type, version.filename)
    assert fmt is not None
    with tempfile.TemporaryDirectory() as work:
        source = Path(work) / f"file.{fmt}"
        with default_storage.open(version.blob.storage_name, "rb") as f:
            source.write_bytes(f.read())
        result = converter_for(fmt)(source, Path(work))
    Preview.objects.update_or_create(
        blob_id=version.blob_id,
        defaults={
            "status": PreviewStatus.READY,
            "format": fmt,
            "kind": result.kind,
            "html": result.html,
            "text": result.text,
            "revisions": result.revisions,
            "made_at": timezone.now(),
        },
    )
    WorkspacePreview.objects.update_or_create(
        workspace_id=version.document.workspace_id,
        blob_id=version.blob_id,
        defaults={"made_at": timezone.now()},
    )


def with_preview(user: Any, workspace: Any, name: str, content: bytes) -> Any:
    """``user`` uploads ``content`` as ``name``; its preview is ready. Returns the document."""
    version = upload(user, workspace, name, content)
    make_preview(version)
    return version.document


def docx_bytes(*paragraphs: str | tuple[str, ...], bold: str = "") -> bytes:
    """A python-docx document: each paragraph a string, or a tuple of runs (the run equal to
    ``bold`` is bold)."""
    import docx

    document = docx.Document()
    for paragraph in paragraphs:
        runs = (paragraph,) if isinstance(paragraph, str) else paragraph
        made = document.add_paragraph()
        for text in runs:
            run = made.add_run(text)
            if bold and text == bold:
                run.bold = True
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def where(doc: Any, quote: str, *, number: int | None = None, nth: int = 1) -> dict[str, Any]:
    """The block of the version's preview (the latest by default) holding the ``nth`` block
    with ``quote`` in it, and ``quote``'s offsets there as a browser counts them."""
    versions = doc.versions.order_by("-number")
    version = versions.get(number=number) if number else versions.first()
    html = Preview.objects.get(blob_id=version.blob_id).html
    seen = 0
    for block in blocks_in(html):
        text = usable_text(block)
        at = text.find(quote)
        if at == -1:
            continue
        seen += 1
        if seen == nth:
            start = utf16_length(text[:at])
            return {
                "version_number": version.number,
                "block_id": block.id,
                "start": start,
                "end": start + utf16_length(quote),
                "quote": quote,
            }
    raise AssertionError(f"{quote!r} is not in the preview of version {version.number}")


def suggest(
    user: Any,
    doc: Any,
    quote: str,
    kind: str = "replace",
    text: str = "",
    *,
    number: int | None = None,
    nth: int = 1,
    **kwargs: Any,
) -> Suggestion:
    place = where(doc, quote, number=number, nth=nth)
    place.update(kwargs)
    return services.suggestion_create(
        actor=user, doc_access=access(user, doc), kind=kind, text=text, **place
    )


def accept(user: Any, doc: Any, *suggestions: Suggestion) -> Any:
    return services.suggestions_accept(
        actor=user, doc_access=access(user, doc), suggestion_ids=[s.pk for s in suggestions]
    )


def version_bytes(version: Any) -> bytes:
    from django.core.files.storage import default_storage

    with default_storage.open(version.blob.storage_name, "rb") as f:
        data: bytes = f.read()
    return data


def children_started(monkeypatch: Any) -> list[str]:
    """The modules of the confined children (``core.sandbox.run_child``) started from now on,
    in order, each really run."""
    import subprocess

    from commonroom.core import sandbox

    started: list[str] = []
    real = subprocess.Popen

    def counted(args: list[str], **kwargs: Any) -> Any:
        started.append(args[5])  # [python, -P, -c, CHILD, parent pid, module, ...]
        return real(args, **kwargs)

    monkeypatch.setattr(sandbox.subprocess, "Popen", counted)
    return started
