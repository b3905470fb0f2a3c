"""The permission matrix: every page route and every API operation, for every kind of person.

The routes are read from the URL configuration and the operations from the OpenAPI schema, so a
new route or operation cannot escape: without a line in the hand-written tables below, its test
fails (and so does a line for a route that no longer exists). Each (route, method) is one test
that asks it as anonymous, non-member, viewer, commenter, editor and manager; the same again in
an archived workspace for every change.

Forms and payloads are harmless but valid, so that the answer shows what the person may do, not
only that the form was empty: a refused page action comes back as a redirect with an error message
("refused"), an allowed one as a redirect without ("done").

The world (people, documents, sessions, tokens) is built once for the module inside a transaction
rolled back at its end; each test runs in a savepoint within it, and each person's request in
another, so that one person's change never decides another's answer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.contrib import messages
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from commonroom.accounts.models import User, UserKind
from commonroom.accounts.services import token_create
from commonroom.accounts.tests.factories import UserFactory
from commonroom.accounts.tests.hashers import TEST_PASSWORD_HASHERS
from commonroom.api import api
from commonroom.approvals.services import approval_request_create
from commonroom.comments.services import comment_create
from commonroom.conversations.services import conversation_start
from commonroom.documents.selectors import document_access
from commonroom.documents.services import document_delete, folder_create, folder_delete
from commonroom.notifications.tests.factories import make_notification
from commonroom.previews.models import Preview
from commonroom.previews.tests.factories import make_ready_preview
from commonroom.suggestions.services import suggestion_create
from commonroom.webdav.models import DavLock
from commonroom.webdav.names import lock_key
from commonroom.workspaces.models import Membership, Workspace
from commonroom.workspaces.selectors import workspace_access
from commonroom.workspaces.services import invitation_create
from commonroom.workspaces.tests.factories import add_member, make_workspace, upload_document

ROLES = ("anonymous", "non-member", "viewer", "commenter", "editor", "manager")

# Outcomes of a page request besides a plain status code.
LOGIN = "login"  # redirected to the sign-in page
DONE = "done"  # redirected after doing it
REFUSED = "refused"  # redirected back with an error message

# Not in the page matrix: allauth's own pages, Django's admin, the API (its own matrix below)
# the health and readiness checks, which are public by design, and the metrics (by address:
# core/tests/test_observability.py).
SKIPPED_PREFIXES = ("accounts/", "admin/", "api/", "static/")
SKIPPED_NAMES = {"healthz", "readyz", "metrics"}


def matrix_settings(files: Path) -> dict[str, Any]:
    """Real Argon2 hashes at the cheapest parameters; static files looked up when asked for, not
    indexed each time a test client starts; the blobs of the shared world in one folder."""
    return {
        "PASSWORD_HASHERS": TEST_PASSWORD_HASHERS,
        "WHITENOISE_AUTOREFRESH": True,
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        "MEDIA_ROOT": str(files / "media"),
        "FILE_UPLOAD_TEMP_DIR": str(files / "upload-tmp"),
        "STORAGES": {
            **django_settings.STORAGES,
            "default": {
                "BACKEND": "commonroom.documents.storage.DurableFileSystemStorage",
                "OPTIONS": {"location": str(files / "media")},
            },
        },
    }


@pytest.fixture(scope="module")
def files(tmp_path_factory: Any) -> Path:
    root = tmp_path_factory.mktemp("matrix")
    (root / "upload-tmp").mkdir()
    return root


@pytest.fixture(autouse=True)
def _matrix_settings(settings: Any, files: Path) -> None:
    for name, value in matrix_settings(files).items():
        setattr(settings, name, value)


# --- The world every request runs against ------------------------------------------------------


@dataclass
class World:
    by_role: dict[str, Any]
    workspace: Any
    params: dict[str, Any]
    trash_params: dict[str, Any]
    sessions: dict[str, str]
    api_tokens: dict[str, str]
    read_tokens: dict[str, str]

    def archive(self) -> None:
        Workspace.objects.filter(pk=self.workspace.pk).update(archived_at=timezone.now())


def build_world(*, guests: bool = False) -> World:
    """A workspace with one person in each role and an outsider; a folder, a document, a trashed
    document and folder, a pending invitation and an API token of the manager's; a signed-in
    session, a write-scoped and a read-scoped API token for everyone. With ``guests``, everyone
    in it is an external guest (whom an administrator has allowed API tokens), the same world
    otherwise (test_permission_matrix_guests.py)."""
    manager = UserFactory.create(email="priya@example.org")
    ws = make_workspace(manager=manager)
    by_role: dict[str, Any] = {
        "anonymous": None,
        "non-member": UserFactory.create(email="outsider@example.org"),
        "viewer": add_member(ws, UserFactory.create(email="viewer@example.org"), "viewer"),
        "commenter": add_member(ws, UserFactory.create(email="sam@example.org"), "commenter"),
        "editor": add_member(ws, UserFactory.create(email="tom@example.org"), "editor"),
        "manager": manager,
    }
    access = workspace_access(user=manager, workspace_id=ws.pk)
    folder = folder_create(actor=manager, access=access, name="Papers")
    document = upload_document(ws, manager, name="minutes.txt")
    trashed = upload_document(ws, manager, name="old-minutes.txt")
    document_delete(
        actor=manager,
        doc_access=document_access(user=manager, workspace_id=ws.pk, document_id=trashed.pk),
    )
    trashed_folder = folder_create(actor=manager, access=access, name="Old papers")
    folder_delete(actor=manager, access=access, folder=trashed_folder)
    invitation = invitation_create(
        actor=manager, access=access, email="new.person@example.org", role="viewer"
    )
    script_token = token_create(actor=manager, name="script").token
    # An open thread started by the commenter.
    comment = comment_create(
        actor=by_role["commenter"],
        doc_access=document_access(
            user=by_role["commenter"], workspace_id=ws.pk, document_id=document.pk
        ),
        body="Paragraph 2 needs the agency figure.",
    )
    # A conversation started by the manager (its first message is the manager's).
    conversation = conversation_start(
        actor=manager, access=access, title="Budget", body="Figures for Q3, please."
    )
    assert conversation.first_message is not None
    viewer_membership = Membership.objects.get(workspace=ws, user=by_role["viewer"])
    params = {
        "workspace_id": ws.pk,
        "folder_id": folder.pk,
        "document_id": document.pk,
        "number": 1,
        "membership_id": viewer_membership.pk,
        "member_id": viewer_membership.pk,
        "invitation_id": invitation.invitation.pk,
        "token": invitation.token,
        "token_id": script_token.pk,
        "kind": "document",
        "item_id": trashed.pk,
        # The manager's own notification; for everyone else it does not exist.
        "notification_id": make_notification(manager, document).pk,
        "comment_id": comment.pk,
        "conversation_id": conversation.pk,
        "message_id": conversation.first_message.pk,
        # The document's preview, ready, with one image.
        "name": make_ready_preview(document),
    }
    # The preview shows the file's text too, so that a suggestion can be made on it; an open
    # suggestion by the commenter.
    Preview.objects.filter(blob_id=document.versions.get().blob_id).update(
        html='<p id="p-1">Minutes of the weekly budget meeting.'
        '<img src="{{file:' + params["name"] + '}}"></p>'
    )
    params["suggestion_id"] = suggestion_create(
        actor=by_role["commenter"],
        doc_access=document_access(
            user=by_role["commenter"], workspace_id=ws.pk, document_id=document.pk
        ),
        version_number=1,
        block_id="p-1",
        start=0,
        end=7,
        kind="replace",
        text="Notes",
    ).pk
    OPEN_SUGGESTION["id"] = str(params["suggestion_id"])
    OPEN_SUGGESTION["approver"] = str(by_role["editor"].pk)
    # An open approval request of the manager's: the commenter and the editor are asked.
    params["request_id"] = approval_request_create(
        actor=manager,
        doc_access=document_access(user=manager, workspace_id=ws.pk, document_id=document.pk),
        version_number=1,
        approver_ids=[by_role["commenter"].pk, by_role["editor"].pk],
    ).pk
    params["approver_id"] = by_role["editor"].pk
    # The editor has the document open in Word: a WebDAV lock, as the endpoint keeps it.
    DavLock.objects.create(
        token="opaquelocktoken:matrix",
        root=lock_key(ws.pk, [document.name]),
        user=by_role["editor"],
        workspace=ws,
        scope="exclusive",
        depth="0",
        client="Word",
        timeout=3600,
        expire_at=timezone.now() + timedelta(hours=1),
    )
    trash_params = {**params, "document_id": trashed.pk, "folder_id": trashed_folder.pk}
    if guests:
        people = [user.pk for user in by_role.values() if user is not None]
        User.objects.filter(pk__in=people).update(kind=UserKind.GUEST, api_tokens_allowed=True)
        by_role = {role: User.objects.get(pk=u.pk) if u else None for role, u in by_role.items()}
    sessions, api_tokens, read_tokens = {}, {}, {}
    for role, user in by_role.items():
        if user is None:
            continue
        browser = Client()
        browser.force_login(user)
        sessions[role] = browser.cookies[django_settings.SESSION_COOKIE_NAME].value
        api_tokens[role] = token_create(actor=user, name="matrix", scope="write").secret
        read_tokens[role] = token_create(actor=user, name="reader", scope="read").secret
    return World(by_role, ws, params, trash_params, sessions, api_tokens, read_tokens)


def world_for_module(
    django_db_blocker: Any, files: Path, *, guests: bool = False
) -> Iterator[World]:
    """The world built once for a module inside a transaction that is rolled back at its end;
    every test runs in a savepoint within it (the ``db`` fixture), and every request in
    another."""
    with django_db_blocker.unblock(), override_settings(**matrix_settings(files)):
        outer = transaction.atomic()
        outer.__enter__()
        try:
            built = build_world(guests=guests)
        except BaseException:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)
            raise
    yield built
    with django_db_blocker.unblock():
        transaction.set_rollback(True)
        outer.__exit__(None, None, None)


@pytest.fixture(scope="module")
def world(django_db_setup: Any, django_db_blocker: Any, files: Path) -> Iterator[World]:
    yield from world_for_module(django_db_blocker, files)


def each_role(world: World, ask: Callable[[str], Any]) -> dict[str, Any]:
    """``ask`` for every role, each in a savepoint rolled back afterwards."""
    answers = {}
    for role in ROLES:
        with transaction.atomic():
            answers[role] = ask(role)
            transaction.set_rollback(True)
    return answers


def mismatches(expected: tuple[Any, ...], answers: dict[str, Any]) -> list[str]:
    return [
        f"{role}: expected {want}, got {answers[role]}"
        for role, want in zip(ROLES, expected, strict=True)
        if answers[role] != want
    ]


# --- Pages -------------------------------------------------------------------------------------


def walk(patterns: list[Any], prefix: str = "") -> Iterator[tuple[str, str | None]]:
    for p in patterns:
        if isinstance(p, URLResolver):
            yield from walk(p.url_patterns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern), p.name


def page_routes() -> dict[str, str]:
    """Every route of the URL configuration in the matrix: name -> route."""
    routes: dict[str, str] = {}
    for route, name in walk(get_resolver().url_patterns):
        if route.startswith(SKIPPED_PREFIXES) or name in SKIPPED_NAMES:
            continue
        key = name or f"(unnamed) {route}"
        routes[key] = route
    return routes


def a_file(name: str = "minutes.txt") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, b"An amended paragraph.\n", content_type="text/plain")


@dataclass(frozen=True)
class Page:
    """Expected outcomes, in the order of ROLES, for GET and (if the route takes it) POST."""

    get: tuple[Any, ...]
    post: tuple[Any, ...] | None = None
    form: Callable[[], dict[str, Any]] = dict


# The commenter's open suggestion (build_world), which the pages' accept form names.
OPEN_SUGGESTION: dict[str, str] = {}
POST_ONLY = (LOGIN, 405, 405, 405, 405, 405)
ANY_SIGNED_IN = (LOGIN, 200, 200, 200, 200, 200)
MEMBERS = (LOGIN, 404, 200, 200, 200, 200)
MANAGERS = (LOGIN, 404, 403, 403, 403, 200)
EDITORS_DO = (LOGIN, 404, REFUSED, REFUSED, DONE, DONE)
MANAGERS_DO = (LOGIN, 404, REFUSED, REFUSED, REFUSED, DONE)
COMMENTERS_DO = (LOGIN, 404, REFUSED, DONE, DONE, DONE)

PAGES: dict[str, Page] = {
    "home": Page(get=ANY_SIGNED_IN),
    "workspace_create": Page(
        get=ANY_SIGNED_IN,
        post=(LOGIN, DONE, DONE, DONE, DONE, DONE),
        form=lambda: {"name": "Audit committee"},
    ),
    "workspace_detail": Page(get=MEMBERS),
    "workspace_settings": Page(
        get=MANAGERS,
        post=(LOGIN, 404, 403, 403, 403, DONE),
        form=lambda: {"action": "save", "name": "Weekly budget meeting", "description": "x"},
    ),
    # Inviting ends back on the members page; the link goes to the invitee by email only. A
    # refusal is the page again (400) with what was typed kept and its sentence.
    "workspace_members": Page(
        get=MEMBERS,
        post=(LOGIN, 404, 400, 400, 400, DONE),
        form=lambda: {"email": "someone.new@example.org", "role": "viewer"},
    ),
    "member_update": Page(get=POST_ONLY, post=MANAGERS_DO, form=lambda: {"role": "commenter"}),
    # Each person's own list of the guests of the workspaces they manage; removing someone who
    # is not one of them (here a forged id) is refused with a sentence, whoever asks.
    "guests": Page(
        get=ANY_SIGNED_IN,
        post=(LOGIN, REFUSED, REFUSED, REFUSED, REFUSED, REFUSED),
        form=lambda: {"action": "remove", "membership": "forged"},
    ),
    "invitation_revoke": Page(get=POST_ONLY, post=(LOGIN, 404, 403, 403, 403, DONE)),
    "upload": Page(get=POST_ONLY, post=EDITORS_DO, form=lambda: {"files": a_file("agenda.txt")}),
    "folder_create": Page(get=POST_ONLY, post=EDITORS_DO, form=lambda: {"name": "Budget"}),
    "folder_detail": Page(get=MEMBERS),
    "folder_action": Page(
        get=POST_ONLY, post=EDITORS_DO, form=lambda: {"action": "rename", "name": "Board papers"}
    ),
    "document_detail": Page(get=MEMBERS),
    "document_heading": Page(get=MEMBERS),
    "document_action": Page(
        get=POST_ONLY, post=EDITORS_DO, form=lambda: {"action": "rename", "name": "draft.txt"}
    ),
    "version_upload": Page(
        get=POST_ONLY, post=EDITORS_DO, form=lambda: {"file": a_file(), "based_on": "1"}
    ),
    "version_download": Page(get=MEMBERS),
    # The world's document is open in Word (the editor's WebDAV lock): a manager breaks it.
    "document_lock_break": Page(get=POST_ONLY, post=MANAGERS_DO),
    # Who has read it: managers and editors only.
    "document_readers": Page(get=(LOGIN, 404, 403, 403, 200, 200)),
    # Nobody has read the world's document: managers and editors remind the others.
    "document_readers_remind": Page(get=POST_ONLY, post=EDITORS_DO),
    "trash": Page(get=MANAGERS),
    # A trashed document is invisible to those who cannot manage the trash: 404, not 403.
    "trash_action": Page(
        get=POST_ONLY, post=(LOGIN, 404, 404, 404, 404, DONE), form=lambda: {"action": "restore"}
    ),
    "workspace_audit": Page(get=MANAGERS),
    # Only administrators (superusers); nobody in the team is one.
    "global_audit": Page(get=(LOGIN, 404, 404, 404, 404, 404)),
    # The link is the credential: open to anyone who holds it. Signed in as someone else than the
    # invited address, accepting is refused with an explanation (400).
    "invitation_accept": Page(
        get=(200, 200, 200, 200, 200, 200),
        post=(DONE, 400, 400, 400, 400, 400),
        form=lambda: {"full_name": "New Person", "password": "a-long-new-passphrase"},
    ),
    "account_security": Page(get=ANY_SIGNED_IN),
    "account_sign_out_everywhere": Page(get=POST_ONLY, post=(LOGIN, DONE, DONE, DONE, DONE, DONE)),
    "account_tokens": Page(
        get=ANY_SIGNED_IN,
        post=(LOGIN, 200, 200, 200, 200, 200),
        form=lambda: {"name": "nightly export", "scope": "read"},
    ),
    # The token is the manager's: nobody else can even find it.
    "account_token_revoke": Page(get=POST_ONLY, post=(LOGIN, 404, 404, 404, 404, DONE)),
    # Notifications are one's own: someone else's does not exist.
    "notification_list": Page(get=ANY_SIGNED_IN),
    "notification_open": Page(
        get=(LOGIN, 404, 404, 404, 404, DONE), post=(LOGIN, 404, 404, 404, 404, DONE)
    ),
    "notification_read_all": Page(get=POST_ONLY, post=(LOGIN, DONE, DONE, DONE, DONE, DONE)),
    "notification_settings": Page(
        get=ANY_SIGNED_IN,
        post=(LOGIN, DONE, DONE, DONE, DONE, DONE),
        form=lambda: {"email": "immediate"},
    ),
    "document_follow": Page(
        get=POST_ONLY, post=(LOGIN, 404, DONE, DONE, DONE, DONE), form=lambda: {"action": "follow"}
    ),
    # Comments: the thread is the commenter's; it is open, so nobody can reopen it.
    "comment_create": Page(get=POST_ONLY, post=COMMENTERS_DO, form=lambda: {"body": "Agreed."}),
    "comment_thread": Page(get=MEMBERS),
    "comment_reply": Page(get=POST_ONLY, post=COMMENTERS_DO, form=lambda: {"body": "Agreed."}),
    "comment_edit": Page(
        get=POST_ONLY,
        post=(LOGIN, 404, REFUSED, DONE, REFUSED, REFUSED),
        form=lambda: {"body": "x"},
    ),
    "comment_delete": Page(get=POST_ONLY, post=(LOGIN, 404, REFUSED, DONE, REFUSED, DONE)),
    "comment_resolve": Page(get=POST_ONLY, post=COMMENTERS_DO),
    "comment_reopen": Page(get=POST_ONLY, post=(LOGIN, 404, REFUSED, REFUSED, REFUSED, REFUSED)),
    # Suggestions: the open one is the commenter's; only editors and managers decide.
    "suggestion_create": Page(
        get=POST_ONLY,
        post=COMMENTERS_DO,
        form=lambda: {"on_version": "1", "paragraph": "p-1", "kind": "replace", "text": "Notes."},
    ),
    "suggestion_item": Page(get=MEMBERS),
    "suggestion_reject": Page(get=POST_ONLY, post=EDITORS_DO, form=lambda: {"reason": "No."}),
    "suggestions_accept": Page(
        get=POST_ONLY, post=EDITORS_DO, form=lambda: {"suggestion": OPEN_SUGGESTION["id"]}
    ),
    # Carrying a stale copy's changes: the world's document has one version, not a stale copy,
    # so those who may carry are refused with a sentence (suggestions/tests/test_carry.py).
    "stale_copy_carry": Page(get=POST_ONLY, post=(LOGIN, 404, REFUSED, REFUSED, REFUSED, REFUSED)),
    # The world's document is a text file: whoever may download it is told that only a Word
    # version comes with its suggestions as tracked changes (suggestions/tests/test_tracked.py).
    "suggestions_tracked_download": Page(get=(LOGIN, 404, REFUSED, REFUSED, REFUSED, REFUSED)),
    # Accepting a Word file's own tracked changes: refused to viewers and commenters, and to
    # editors and managers because a text file has none (suggestions/tests/test_tracked_changes.py).
    "tracked_changes_accept": Page(
        get=POST_ONLY,
        post=(LOGIN, 404, REFUSED, REFUSED, REFUSED, REFUSED),
        form=lambda: {"version": "1"},
    ),
    # Approvals: the open request is the manager's, asking the commenter and the editor. Asking
    # again for version 1 is refused (it has that open request); only the people asked decide;
    # only its requester, or a manager, changes it.
    "approval_create": Page(
        get=POST_ONLY,
        post=(LOGIN, 404, REFUSED, REFUSED, REFUSED, REFUSED),
        form=lambda: {"version": "1", "approvers": [OPEN_SUGGESTION["approver"]]},
    ),
    "approval_item": Page(get=MEMBERS),
    # The world's version 1 is not a final record: whoever may download is told so.
    "record_certificate": Page(get=(LOGIN, 404, REFUSED, REFUSED, REFUSED, REFUSED)),
    "approval_change": Page(get=POST_ONLY, post=MANAGERS_DO, form=lambda: {"action": "remind"}),
    "approval_confirm": Page(get=MEMBERS, post=(LOGIN, 404, REFUSED, DONE, DONE, REFUSED)),
    "approval_decline": Page(
        get=POST_ONLY,
        post=(LOGIN, 404, REFUSED, DONE, DONE, REFUSED),
        form=lambda: {"reason": "No."},
    ),
    "workspace_mention_candidates": Page(get=MEMBERS),
    # Conversations: the topic and its message are the manager's.
    "conversation_list": Page(get=MEMBERS),
    "conversation_start": Page(
        get=POST_ONLY,
        post=(LOGIN, 404, REFUSED, DONE, DONE, DONE),
        form=lambda: {"title": "Rota", "body": "Who covers Friday?"},
    ),
    "conversation_detail": Page(get=MEMBERS),
    "conversation_row": Page(get=MEMBERS),
    "message_post": Page(
        get=POST_ONLY, post=(LOGIN, 404, REFUSED, DONE, DONE, DONE), form=lambda: {"body": "Yes."}
    ),
    "message_fragment": Page(get=MEMBERS),
    # Previews: a version's preview fragment and the files (images) it shows.
    "version_preview": Page(get=MEMBERS),
    "preview_file": Page(get=MEMBERS),
    # The reader's print stylesheet (the footer, and their watermark when they may not download).
    "print_sheet": Page(get=MEMBERS),
    "version_compare": Page(get=MEMBERS),
    "message_edit": Page(get=POST_ONLY, post=MANAGERS_DO, form=lambda: {"body": "Changed."}),
    "message_delete": Page(get=POST_ONLY, post=MANAGERS_DO),
    # Search is everyone's own: it finds only what the person can read (search/tests).
    "search": Page(get=ANY_SIGNED_IN),
}

ROUTES = page_routes()


def page_cases() -> list[Any]:
    cases = []
    for name in sorted(ROUTES):
        page = PAGES.get(name)
        cases.append(pytest.param(name, "GET", id=f"{name}-GET"))
        if page is not None and page.post is not None:
            cases.append(pytest.param(name, "POST", id=f"{name}-POST"))
    return cases


def fill(route: str, params: dict[str, Any]) -> dict[str, Any]:
    names = re.findall(r"<(?:\w+:)?(\w+)>", route)
    missing = [n for n in names if n not in params]
    assert not missing, f"no value to fill the URL parameter(s) {missing} of {route}"
    return {n: params[n] for n in names}


def page_outcome(response: Any) -> Any:
    if response.status_code != 302:
        return response.status_code
    if response["Location"].startswith(reverse("account_login") + "?next="):
        return LOGIN
    errors = [m for m in get_messages(response.wsgi_request) if m.level == messages.ERROR]
    return REFUSED if errors else DONE


def test_every_route_is_in_the_matrix():
    assert ROUTES, "no routes found"
    missing = sorted(set(ROUTES) - set(PAGES))
    stale = sorted(set(PAGES) - set(ROUTES))
    assert not missing, f"routes without expected statuses: {missing}"
    assert not stale, f"expectations for routes that no longer exist: {stale}"


def ask_pages(world: World, name: str, method: str, page: Page) -> dict[str, Any]:
    url = reverse(name, kwargs=fill(ROUTES[name], world.params))
    client = Client()

    def ask(role: str) -> Any:
        client.cookies.clear()
        if role in world.sessions:
            client.cookies[django_settings.SESSION_COOKIE_NAME] = world.sessions[role]
        if method == "GET":
            return page_outcome(client.get(url))
        return page_outcome(client.post(url, page.form()))

    return each_role(world, ask)


@pytest.mark.parametrize(("name", "method"), page_cases())
def test_page_matrix(db, world, name, method):
    page = PAGES.get(name)
    if page is None:
        pytest.fail(f"route {name!r} ({ROUTES[name]}) has no line in PAGES: add its statuses")
    expected = page.get if method == "GET" else page.post
    assert expected is not None
    wrong = mismatches(expected, ask_pages(world, name, method, page))
    assert not wrong, f"{method} {name}: {wrong}"


# In an archived workspace every change is refused, by the page or by the service behind it;
# reading still works (the GET matrix above is the same for an archived workspace's pages).
EVERY_MEMBER_REFUSED = (LOGIN, 404, REFUSED, REFUSED, REFUSED, REFUSED)
ARCHIVED_PAGES: dict[tuple[str, str], tuple[Any, ...]] = {
    ("workspace_settings", "POST"): (LOGIN, 404, 403, 403, 403, REFUSED),
    ("workspace_members", "POST"): (LOGIN, 404, 400, 400, 400, 400),
    ("member_update", "POST"): EVERY_MEMBER_REFUSED,
    ("invitation_revoke", "POST"): (LOGIN, 404, 403, 403, 403, 403),
    ("upload", "POST"): EVERY_MEMBER_REFUSED,
    ("folder_create", "POST"): EVERY_MEMBER_REFUSED,
    ("folder_action", "POST"): EVERY_MEMBER_REFUSED,
    ("document_action", "POST"): EVERY_MEMBER_REFUSED,
    ("document_lock_break", "POST"): EVERY_MEMBER_REFUSED,
    ("document_readers_remind", "POST"): EVERY_MEMBER_REFUSED,
    ("version_upload", "POST"): EVERY_MEMBER_REFUSED,
    ("trash_action", "POST"): (LOGIN, 404, 404, 404, 404, 404),
    # An invitation to an archived workspace can no longer be used.
    ("invitation_accept", "GET"): (410, 410, 410, 410, 410, 410),
    ("invitation_accept", "POST"): (410, 410, 410, 410, 410, 410),
    ("comment_create", "POST"): EVERY_MEMBER_REFUSED,
    ("comment_reply", "POST"): EVERY_MEMBER_REFUSED,
    ("comment_edit", "POST"): EVERY_MEMBER_REFUSED,
    ("comment_delete", "POST"): EVERY_MEMBER_REFUSED,
    ("comment_resolve", "POST"): EVERY_MEMBER_REFUSED,
    ("comment_reopen", "POST"): EVERY_MEMBER_REFUSED,
    ("suggestion_create", "POST"): EVERY_MEMBER_REFUSED,
    ("suggestion_reject", "POST"): EVERY_MEMBER_REFUSED,
    ("suggestions_accept", "POST"): EVERY_MEMBER_REFUSED,
    ("stale_copy_carry", "POST"): EVERY_MEMBER_REFUSED,
    ("tracked_changes_accept", "POST"): EVERY_MEMBER_REFUSED,
    ("approval_create", "POST"): EVERY_MEMBER_REFUSED,
    ("approval_change", "POST"): EVERY_MEMBER_REFUSED,
    ("approval_confirm", "POST"): EVERY_MEMBER_REFUSED,
    ("approval_decline", "POST"): EVERY_MEMBER_REFUSED,
    ("conversation_start", "POST"): EVERY_MEMBER_REFUSED,
    ("message_post", "POST"): EVERY_MEMBER_REFUSED,
    ("message_edit", "POST"): EVERY_MEMBER_REFUSED,
    ("message_delete", "POST"): EVERY_MEMBER_REFUSED,
    ("conversation_detail", "GET"): MEMBERS,
    ("workspace_detail", "GET"): MEMBERS,
    ("document_detail", "GET"): MEMBERS,
    ("version_download", "GET"): MEMBERS,
    # Following is one's own choice, not a change to the workspace: it goes on.
    ("document_follow", "POST"): (LOGIN, 404, DONE, DONE, DONE, DONE),
    ("workspace_audit", "GET"): MANAGERS,
}


def test_every_workspace_change_is_in_the_archived_matrix():
    changes = {
        (name, "POST")
        for name, page in PAGES.items()
        if page.post is not None and "<uuid:workspace_id>" in ROUTES.get(name, "")
    }
    missing = sorted(changes - set(ARCHIVED_PAGES))
    assert not missing, f"workspace changes without archived expectations: {missing}"


@pytest.mark.parametrize(("name", "method"), sorted(ARCHIVED_PAGES), ids="-".join)
def test_page_matrix_archived(db, world, name, method):
    world.archive()
    wrong = mismatches(ARCHIVED_PAGES[(name, method)], ask_pages(world, name, method, PAGES[name]))
    assert not wrong, f"{method} {name} (archived): {wrong}"


# --- API ---------------------------------------------------------------------------------------

PREFIX = "/api/v1"


def api_operations() -> dict[tuple[str, str], dict[str, Any]]:
    schema = api.get_openapi_schema()
    ops = {}
    for path, item in schema["paths"].items():
        for method, op in item.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                ops[(method.upper(), path.removeprefix(PREFIX))] = op
    return ops


@dataclass(frozen=True)
class Call:
    """Expected statuses in the order of ROLES, asked with each person's API token; ``json`` or
    ``form`` make the request body (a ``json`` string naming a world's parameter, such as
    ``"<suggestion_id>"``, is that parameter). ``session``: the statuses asked with each person's
    browser session instead (with its CSRF token), for the operations that take only the session."""

    expect: tuple[int, ...]
    json: dict[str, Any] | None = None
    form: Callable[[], dict[str, Any]] | None = None
    session: tuple[int, ...] | None = None


ALL_TOKENS = (401, 200, 200, 200, 200, 200)
NO_TOKEN = (401, 401, 401, 401, 401, 401)
READ = (401, 404, 200, 200, 200, 200)
MANAGE = (401, 404, 403, 403, 403, 200)
MANAGE_204 = (401, 404, 403, 403, 403, 204)
MANAGE_201 = (401, 404, 403, 403, 403, 201)
EDIT = (401, 404, 403, 403, 200, 200)
EDIT_201 = (401, 404, 403, 403, 201, 201)
EDIT_204 = (401, 404, 403, 403, 204, 204)

W = "/workspaces/{workspace_id}"
D = W + "/documents/{document_id}"

CALLS: dict[tuple[str, str], Call] = {
    ("GET", "/me"): Call(ALL_TOKENS),
    # Tokens are managed with the browser session only: every token gets 401, so a leaked one
    # can never mint tokens that outlive its revocation.
    ("GET", "/me/tokens"): Call(NO_TOKEN, session=ALL_TOKENS),
    ("POST", "/me/tokens"): Call(
        NO_TOKEN, json={"name": "ci"}, session=(401, 201, 201, 201, 201, 201)
    ),
    # The manager's own token; for everyone else it does not exist.
    ("DELETE", "/me/tokens/{token_id}"): Call(NO_TOKEN, session=(401, 404, 404, 404, 404, 204)),
    ("GET", "/workspaces"): Call(ALL_TOKENS),
    ("POST", "/workspaces"): Call((401, 201, 201, 201, 201, 201), json={"name": "Audit"}),
    ("GET", W): Call(READ),
    ("PATCH", W): Call(MANAGE, json={"description": "Papers for the weekly meeting"}),
    ("GET", W + "/members"): Call(READ),
    ("PATCH", W + "/members/{member_id}"): Call(MANAGE, json={"role": "commenter"}),
    ("DELETE", W + "/members/{member_id}"): Call(MANAGE_204),
    ("GET", W + "/invitations"): Call(MANAGE),
    ("POST", W + "/invitations"): Call(
        MANAGE_201, json={"email": "someone.new@example.org", "role": "viewer"}
    ),
    ("DELETE", W + "/invitations/{invitation_id}"): Call(MANAGE_204),
    ("GET", W + "/folders"): Call(READ),
    ("POST", W + "/folders"): Call(EDIT_201, json={"name": "Budget"}),
    ("PATCH", W + "/folders/{folder_id}"): Call(EDIT, json={"name": "Board papers"}),
    ("DELETE", W + "/folders/{folder_id}"): Call(EDIT_204),
    ("GET", W + "/documents"): Call(READ),
    ("POST", W + "/documents"): Call(EDIT_201, form=lambda: {"file": a_file("agenda.txt")}),
    ("GET", D): Call(READ),
    ("PATCH", D): Call(EDIT, json={"name": "draft.txt"}),
    ("DELETE", D): Call(EDIT_204),
    ("GET", D + "/versions"): Call(READ),
    ("POST", D + "/versions"): Call(EDIT_201, form=lambda: {"file": a_file(), "based_on": "1"}),
    ("GET", D + "/versions/{number}"): Call(READ),
    ("GET", D + "/versions/{number}/content"): Call(READ),
    ("GET", D + "/compare"): Call(READ),
    ("POST", D + "/versions/{number}/restore"): Call(EDIT_201),
    # The world's document is open in Word (the editor's WebDAV lock): every member sees it,
    # a manager breaks it.
    ("GET", D + "/lock"): Call(READ),
    ("DELETE", D + "/lock"): Call(MANAGE_204),
    # Read receipts: every member starts and sends readings (this token is nobody's: a
    # sentence, 400, past every permission check); managers and editors see who has read the
    # document and remind the others.
    ("GET", D + "/versions/{number}/reading"): Call(READ),
    ("POST", D + "/versions/{number}/readings"): Call(
        (401, 404, 400, 400, 400, 400), json={"token": "forged", "visible_seconds": 6}
    ),
    ("GET", D + "/reading"): Call(READ),
    ("GET", D + "/readers"): Call(EDIT),
    ("POST", D + "/readers/remind"): Call(EDIT_201),
    # Only managers may reopen; the world's document is not sealed, which a manager is told
    # (409 not_sealed: past every permission check).
    ("POST", D + "/reopen"): Call((401, 404, 403, 403, 403, 409), json={"reason": "Item 4"}),
    ("GET", W + "/trash/documents"): Call(MANAGE),
    ("GET", W + "/trash/folders"): Call(MANAGE),
    # Trashed documents and folders are invisible to those who cannot manage the trash (404).
    ("POST", W + "/trash/documents/{document_id}/restore"): Call((401, 404, 404, 404, 404, 200)),
    ("DELETE", W + "/trash/documents/{document_id}"): Call((401, 404, 404, 404, 404, 204)),
    ("POST", W + "/trash/folders/{folder_id}/restore"): Call((401, 404, 404, 404, 404, 200)),
    ("DELETE", W + "/trash/folders/{folder_id}"): Call((401, 404, 404, 404, 404, 204)),
    ("GET", "/notifications"): Call(ALL_TOKENS),
    ("POST", "/notifications/read"): Call((401, 204, 204, 204, 204, 204)),
    # The manager's own notification; for everyone else it does not exist.
    ("POST", "/notifications/{notification_id}/read"): Call((401, 404, 404, 404, 404, 204)),
    ("GET", "/account/notification-settings"): Call(ALL_TOKENS),
    ("PUT", "/account/notification-settings"): Call(ALL_TOKENS, json={"email": "immediate"}),
    ("PUT", D + "/follow"): Call((401, 404, 204, 204, 204, 204)),
    ("DELETE", D + "/follow"): Call((401, 404, 204, 204, 204, 204)),
    # Comments: the thread is the commenter's; it is open, so nobody can reopen it.
    ("GET", D + "/comments"): Call(READ),
    ("POST", D + "/comments"): Call((401, 404, 403, 201, 201, 201), json={"body": "Agreed."}),
    ("POST", D + "/comments/{comment_id}/replies"): Call(
        (401, 404, 403, 201, 201, 201), json={"body": "Agreed."}
    ),
    ("PATCH", D + "/comments/{comment_id}"): Call(
        (401, 404, 403, 200, 403, 403), json={"body": "x"}
    ),
    ("DELETE", D + "/comments/{comment_id}"): Call((401, 404, 403, 204, 403, 204)),
    ("POST", D + "/comments/{comment_id}/resolve"): Call((401, 404, 403, 200, 200, 200)),
    # Reopening the open thread: a conflict for those who may resolve it, refused for the viewer.
    ("POST", D + "/comments/{comment_id}/reopen"): Call((401, 404, 403, 409, 409, 409)),
    # Suggestions: the open one is the commenter's; suggesting is a commenter's, deciding an
    # editor's or a manager's.
    ("GET", D + "/suggestions"): Call(READ),
    ("POST", D + "/suggestions"): Call(
        (401, 404, 403, 201, 201, 201),
        json={"block": "p-1", "start": 0, "end": 7, "kind": "replace", "text": "Agenda"},
    ),
    ("GET", D + "/suggestions/{suggestion_id}"): Call(READ),
    ("POST", D + "/suggestions/accept"): Call(EDIT, json={"ids": ["<suggestion_id>"]}),
    ("POST", D + "/suggestions/{suggestion_id}/reject"): Call(EDIT, json={"reason": "No."}),
    # Version 1 is not a stale copy: those who may carry are told so (400).
    ("POST", D + "/suggestions/carry"): Call((401, 404, 403, 403, 400, 400), json={"version": 1}),
    # The world's document is a text file: not a Word file, to download with tracked changes,
    # to count its own or to accept them (409 not_word, all three; who may accept a Word
    # file's is in tests/api/test_api_suggestions.py).
    ("GET", D + "/suggestions/tracked-changes"): Call((401, 404, 409, 409, 409, 409)),
    ("GET", D + "/versions/{number}/tracked-changes"): Call((401, 404, 409, 409, 409, 409)),
    ("POST", D + "/versions/{number}/accept-tracked-changes"): Call((401, 404, 403, 403, 409, 409)),
    # Approvals: the open request is the manager's, asking the commenter and the editor; asking
    # again for version 1 is a conflict (it has that open request).
    ("GET", D + "/approvals"): Call(READ),
    ("POST", D + "/approvals"): Call(
        (401, 404, 403, 403, 409, 409), json={"version": 1, "approvers": ["<approver_id>"]}
    ),
    ("GET", D + "/approvals/{request_id}"): Call(READ),
    ("POST", D + "/approvals/{request_id}/decision"): Call(
        (401, 404, 403, 200, 200, 403), json={"decision": "decline", "reason": "No."}
    ),
    ("POST", D + "/approvals/{request_id}/change"): Call(MANAGE, json={"action": "remind"}),
    ("GET", D + "/versions/{number}/certificate"): Call((401, 404, 409, 409, 409, 409)),
    # One's own list, across one's workspaces (approvals/tests).
    ("GET", "/approvals/awaiting"): Call(ALL_TOKENS),
    # Conversations: the topic and its message are the manager's; every member marks read.
    ("GET", W + "/conversations"): Call(READ),
    ("POST", W + "/conversations"): Call(
        (401, 404, 403, 201, 201, 201), json={"title": "Rota", "body": "Who covers Friday?"}
    ),
    ("GET", W + "/conversations/{conversation_id}"): Call(READ),
    ("GET", W + "/conversations/{conversation_id}/messages"): Call(READ),
    ("POST", W + "/conversations/{conversation_id}/messages"): Call(
        (401, 404, 403, 201, 201, 201), json={"body": "Yes."}
    ),
    ("PATCH", W + "/conversations/{conversation_id}/messages/{message_id}"): Call(
        MANAGE, json={"body": "Changed."}
    ),
    ("DELETE", W + "/conversations/{conversation_id}/messages/{message_id}"): Call(MANAGE_204),
    ("POST", W + "/conversations/{conversation_id}/read"): Call((401, 404, 204, 204, 204, 204)),
    # Outside any workspace: everyone searches their own workspaces (search/tests).
    ("GET", "/search"): Call(ALL_TOKENS),
}

OPERATIONS = api_operations()


def test_every_api_operation_is_in_the_matrix():
    assert OPERATIONS, "no operations in the schema"
    missing = sorted(set(OPERATIONS) - set(CALLS))
    stale = sorted(set(CALLS) - set(OPERATIONS))
    assert not missing, f"API operations without expected statuses: {missing}"
    assert not stale, f"expectations for API operations that no longer exist: {stale}"


def test_api_is_mounted_where_the_matrix_calls_it():
    assert reverse("api:api-root") == PREFIX + "/"


SESSION_CSRF = "k" * 32  # a valid CSRF secret, sent as the cookie and the header, like a page


def ask_api(
    world: World, method: str, path: str, *, with_session: bool = False, read_only: bool = False
) -> dict[str, Any]:
    call = CALLS[(method, path)]
    params = world.trash_params if "/trash/" in path else world.params
    url = PREFIX + path.format(**fill(path.replace("{", "<").replace("}", ">"), params))
    client = Client(enforce_csrf_checks=True)

    def ask(role: str) -> int:
        headers = {}
        client.cookies.clear()
        if role == "anonymous":
            pass
        elif with_session:
            client.cookies[django_settings.SESSION_COOKIE_NAME] = world.sessions[role]
            client.cookies[django_settings.CSRF_COOKIE_NAME] = SESSION_CSRF
            headers["X-CSRFToken"] = SESSION_CSRF
        else:
            tokens = world.read_tokens if read_only else world.api_tokens
            headers["Authorization"] = f"Bearer {tokens[role]}"
        if call.form is not None:
            response = client.post(url, call.form(), headers=headers)
        elif call.json is not None:
            body = re.sub(
                r'"<(\w+)>"', lambda m: json.dumps(str(params[m[1]])), json.dumps(call.json)
            )
            response = client.generic(
                method, url, data=body, content_type="application/json", headers=headers
            )
        else:
            response = client.generic(method, url, headers=headers)
        assert response.status_code < 500, f"{role}: {method} {url} -> {response.status_code}"
        return response.status_code

    return each_role(world, ask)


@pytest.mark.parametrize(
    ("method", "path"), sorted(OPERATIONS), ids=[f"{m} {p}" for m, p in sorted(OPERATIONS)]
)
def test_api_matrix(db, world, method, path):
    call = CALLS.get((method, path))
    if call is None:
        pytest.fail(f"API operation {method} {path} has no line in CALLS: add its statuses")
    wrong = mismatches(call.expect, ask_api(world, method, path))
    assert not wrong, f"{method} {path}: {wrong}"


def read_token_expectation(method: str, path: str) -> tuple[int, ...]:
    """A read-scoped token reads what its owner may read and changes nothing: every change is
    refused (403) before anything is looked up, to members and outsiders alike."""
    expect = CALLS[(method, path)].expect
    if method == "GET":
        return expect
    return tuple(401 if status == 401 else 403 for status in expect)


@pytest.mark.parametrize(
    ("method", "path"), sorted(OPERATIONS), ids=[f"{m} {p}" for m, p in sorted(OPERATIONS)]
)
def test_api_matrix_with_read_tokens(db, world, method, path):
    expected = read_token_expectation(method, path)
    wrong = mismatches(expected, ask_api(world, method, path, read_only=True))
    assert not wrong, f"{method} {path} (read token): {wrong}"


def session_only_operations() -> set[tuple[str, str]]:
    """The operations whose documented security is the browser session alone."""
    return {
        key
        for key, op in OPERATIONS.items()
        if op.get("security") and all(set(s) == {"BrowserSessionAuth"} for s in op["security"])
    }


def test_every_session_only_operation_is_in_the_session_matrix():
    session_only = session_only_operations()
    assert session_only, "managing tokens should take the browser session only"
    with_session = {key for key, call in CALLS.items() if call.session is not None}
    assert session_only == with_session
    for key in session_only:
        assert CALLS[key].expect == NO_TOKEN, key


SESSION_OPERATIONS = sorted(k for k, call in CALLS.items() if call.session is not None)


@pytest.mark.parametrize(
    ("method", "path"), SESSION_OPERATIONS, ids=[f"{m} {p}" for m, p in SESSION_OPERATIONS]
)
def test_api_matrix_with_the_session(db, world, method, path):
    expected = CALLS[(method, path)].session
    assert expected is not None
    wrong = mismatches(expected, ask_api(world, method, path, with_session=True))
    assert not wrong, f"{method} {path} (session): {wrong}"


ARCHIVED_REFUSED = (401, 404, 403, 403, 403, 403)
ARCHIVED_CALLS: dict[tuple[str, str], tuple[int, ...]] = {
    ("PATCH", W): ARCHIVED_REFUSED,
    ("PATCH", W + "/members/{member_id}"): ARCHIVED_REFUSED,
    ("DELETE", W + "/members/{member_id}"): ARCHIVED_REFUSED,
    ("POST", W + "/invitations"): ARCHIVED_REFUSED,
    ("DELETE", W + "/invitations/{invitation_id}"): ARCHIVED_REFUSED,
    ("POST", W + "/folders"): ARCHIVED_REFUSED,
    ("PATCH", W + "/folders/{folder_id}"): ARCHIVED_REFUSED,
    ("DELETE", W + "/folders/{folder_id}"): ARCHIVED_REFUSED,
    ("POST", W + "/documents"): ARCHIVED_REFUSED,
    ("PATCH", D): ARCHIVED_REFUSED,
    ("DELETE", D): ARCHIVED_REFUSED,
    ("POST", D + "/versions"): ARCHIVED_REFUSED,
    ("POST", D + "/versions/{number}/restore"): ARCHIVED_REFUSED,
    ("POST", D + "/reopen"): ARCHIVED_REFUSED,
    ("DELETE", D + "/lock"): ARCHIVED_REFUSED,
    ("POST", D + "/readers/remind"): ARCHIVED_REFUSED,
    # What one has read is one's own, archived or not (a forged token: a sentence).
    ("POST", D + "/versions/{number}/readings"): (401, 404, 400, 400, 400, 400),
    ("POST", D + "/comments"): ARCHIVED_REFUSED,
    ("POST", D + "/comments/{comment_id}/replies"): ARCHIVED_REFUSED,
    ("PATCH", D + "/comments/{comment_id}"): ARCHIVED_REFUSED,
    ("DELETE", D + "/comments/{comment_id}"): ARCHIVED_REFUSED,
    ("POST", D + "/comments/{comment_id}/resolve"): ARCHIVED_REFUSED,
    ("POST", D + "/comments/{comment_id}/reopen"): ARCHIVED_REFUSED,
    ("POST", D + "/suggestions"): ARCHIVED_REFUSED,
    ("POST", D + "/suggestions/accept"): ARCHIVED_REFUSED,
    ("POST", D + "/suggestions/{suggestion_id}/reject"): ARCHIVED_REFUSED,
    ("POST", D + "/suggestions/carry"): ARCHIVED_REFUSED,
    ("POST", D + "/versions/{number}/accept-tracked-changes"): ARCHIVED_REFUSED,
    ("POST", D + "/approvals"): ARCHIVED_REFUSED,
    ("POST", D + "/approvals/{request_id}/decision"): ARCHIVED_REFUSED,
    ("POST", D + "/approvals/{request_id}/change"): ARCHIVED_REFUSED,
    ("POST", W + "/conversations"): ARCHIVED_REFUSED,
    ("POST", W + "/conversations/{conversation_id}/messages"): ARCHIVED_REFUSED,
    ("PATCH", W + "/conversations/{conversation_id}/messages/{message_id}"): ARCHIVED_REFUSED,
    ("DELETE", W + "/conversations/{conversation_id}/messages/{message_id}"): ARCHIVED_REFUSED,
    # What one has read is one's own, archived or not.
    ("POST", W + "/conversations/{conversation_id}/read"): (401, 404, 204, 204, 204, 204),
    ("POST", W + "/trash/documents/{document_id}/restore"): (401, 404, 404, 404, 404, 404),
    ("DELETE", W + "/trash/documents/{document_id}"): (401, 404, 404, 404, 404, 404),
    ("POST", W + "/trash/folders/{folder_id}/restore"): (401, 404, 404, 404, 404, 404),
    ("DELETE", W + "/trash/folders/{folder_id}"): (401, 404, 404, 404, 404, 404),
    # Reading goes on.
    ("GET", W): READ,
    ("GET", D + "/versions/{number}/content"): READ,
    # Following is one's own choice: it goes on in an archived workspace.
    ("PUT", D + "/follow"): (401, 404, 204, 204, 204, 204),
    ("DELETE", D + "/follow"): (401, 404, 204, 204, 204, 204),
}


def test_every_workspace_api_change_is_in_the_archived_matrix():
    changes = {(m, p) for m, p in OPERATIONS if m != "GET" and p.startswith(W)}
    missing = sorted(changes - set(ARCHIVED_CALLS))
    assert not missing, f"API changes without archived expectations: {missing}"


@pytest.mark.parametrize(
    ("method", "path"), sorted(ARCHIVED_CALLS), ids=[f"{m} {p}" for m, p in sorted(ARCHIVED_CALLS)]
)
def test_api_matrix_archived(db, world, method, path):
    world.archive()
    wrong = mismatches(ARCHIVED_CALLS[(method, path)], ask_api(world, method, path))
    assert not wrong, f"{method} {path} (archived): {wrong}"


@pytest.mark.parametrize(("name", "method"), page_cases())
def test_pages_take_no_api_token(db, world, name, method):
    """An API token opens no page: with one and no session, everyone is as the anonymous are."""
    page = PAGES[name]
    expected = page.get if method == "GET" else page.post
    assert expected is not None
    url = reverse(name, kwargs=fill(ROUTES[name], world.params))
    client = Client()

    def ask(role: str) -> Any:
        headers = (
            {} if role == "anonymous" else {"Authorization": f"Bearer {world.api_tokens[role]}"}
        )
        if method == "GET":
            return page_outcome(client.get(url, headers=headers))
        return page_outcome(client.post(url, page.form(), headers=headers))

    wrong = mismatches((expected[0],) * len(ROLES), each_role(world, ask))
    assert not wrong, f"{method} {name} (API token on a page): {wrong}"
