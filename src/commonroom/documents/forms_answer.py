"""A document-scoped form, answered: the document's access first, then the service's write, then
a page part for a script or a redirect back to the document page for a plain form.

The apps that add forms to the document page (comments, suggestions) use
:func:`document_form_answer` rather than each writing it again. What must always hold:

- the document is read through ``selectors.document_access`` before anything else (a non-member,
  a document in the trash or a forged id is 404, as on every page);
- a refusal (an ``ApplicationError``) changes nothing and is its sentence: plain text with its
  status for a script (``HX-Request: true``), a message on the document page for a plain form,
  except a 404, which is the not-found page everywhere;
- what was written is answered with the caller's fragment for a script, or a success message
  and a redirect to its place on the document page for a plain form.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from commonroom.core.exceptions import ApplicationError
from commonroom.core.views import AuthedRequest, back_with_error, is_htmx
from commonroom.documents.selectors import DocumentAccess, document_access

Written = TypeVar("Written")


def document_page_access(
    request: AuthedRequest, workspace_id: Any, document_id: Any
) -> DocumentAccess:
    """The acting person's access to the document, as every document page reads it."""
    return document_access(user=request.user, workspace_id=workspace_id, document_id=document_id)


def document_page_url(doc_access: DocumentAccess, anchor: str) -> str:
    """The document page, at ``anchor`` (an element id on it)."""
    url = reverse("document_detail", args=[doc_access.access.workspace.pk, doc_access.document.pk])
    return f"{url}#{anchor}"


def document_form_answer(
    request: AuthedRequest,
    workspace_id: Any,
    document_id: Any,
    write: Callable[[DocumentAccess], Written],
    *,
    fragment: Callable[[DocumentAccess, Written], HttpResponse] | None = None,
    done: Callable[[Written], str],
    anchor: Callable[[Written], str],
    refused_anchor: str,
) -> HttpResponse:
    """Read the document's access, call ``write`` with it, and answer: ``fragment`` for a
    script; else the ``done`` sentence as a message and a redirect to ``anchor`` on the document
    page. A refusal is its sentence (see the module's docstring); back at ``refused_anchor``.
    A form with no ``fragment`` is answered as a plain form, script or not."""
    doc_access = document_page_access(request, workspace_id, document_id)
    scripted = fragment is not None and is_htmx(request)
    try:
        written = write(doc_access)
    except ApplicationError as exc:
        if scripted:
            return HttpResponse(
                exc.message, status=exc.status, content_type="text/plain; charset=utf-8"
            )
        if exc.status == 404:
            raise  # a forged id is not found, as on every other page
        return back_with_error(request, exc, document_page_url(doc_access, refused_anchor))
    if scripted and fragment is not None:
        return fragment(doc_access, written)
    messages.success(request, done(written))
    return redirect(document_page_url(doc_access, anchor(written)))
