"""Abilities are typed: a misspelt name is an error mypy reports, never a silent refusal.

Each abilities function returns a ``TypedDict`` and each ``can()`` takes a ``Literal`` of the
names, so ``access.can("manage_member")`` or ``abilities["archve"]`` fails type-checking (run by
``make test``). These tests prove it by running mypy on a snippet of misspellings (each line marked
``# error`` must be reported, and nothing else), check that each ``Literal`` and its dict's keys
name the same abilities, that what the functions return at run time has exactly those keys, and
that templates (which mypy does not read) name only abilities that exist.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, get_args

import pytest

from commonroom.accounts.permissions import AccountAbilities, AccountAbility
from commonroom.approvals.permissions import ApprovalAbilities
from commonroom.comments.permissions import CommentAbilities, CommentAbility
from commonroom.conversations.permissions import (
    ConversationAbilities,
    ConversationAbility,
    MessageAbilities,
    MessageAbility,
)
from commonroom.documents.permissions import DocumentAbilities, DocumentAbility
from commonroom.suggestions.permissions import SuggestionAbilities
from commonroom.workspaces.models import DownloadRule, Role
from commonroom.workspaces.permissions import (
    ABILITY_NAMES,
    DownloadSettings,
    WorkspaceAbilities,
    WorkspaceAbility,
    abilities_for_role,
    no_abilities,
)

SRC = Path(__file__).resolve().parents[3]  # .../src
ROOT = SRC.parent
TEMPLATES = SRC / "commonroom" / "templates"

PAIRS: list[tuple[Any, Any]] = [
    (WorkspaceAbility, WorkspaceAbilities),
    (DocumentAbility, DocumentAbilities),
    (CommentAbility, CommentAbilities),
    (ConversationAbility, ConversationAbilities),
    (MessageAbility, MessageAbilities),
    (AccountAbility, AccountAbilities),
]

# Every misspelling a caller could make, one per line, and two right spellings (no error).
SNIPPET = """
from django.contrib.auth.models import AnonymousUser

from commonroom.accounts.models import User
from commonroom.accounts.permissions import account_abilities
from commonroom.comments.models import Comment
from commonroom.comments.permissions import comment_abilities
from commonroom.conversations.models import Message
from commonroom.conversations.permissions import conversation_abilities, message_abilities
from commonroom.documents import services as documents
from commonroom.documents.selectors import DocumentAccess
from commonroom.workspaces import services as workspaces
from commonroom.workspaces.selectors import WorkspaceAccess


def misspelt(
    access: WorkspaceAccess, doc: DocumentAccess, user: User, comment: Comment, message: Message
) -> None:
    access.can("manage_members")
    doc.can("rename")
    access.can("manage_member")  # error
    access.abilities["archve"]  # error
    doc.can("renam")  # error
    doc.abilities["upload"]  # error: "upload" is a workspace ability, not a document's
    workspaces.require_ability(access, "uplaod", "No.")  # error
    comment_abilities(doc, comment, user)["reslove"]  # error
    message_abilities(access, message, user)["edt"]  # error
    conversation_abilities(access)["strat"]  # error
    account_abilities(user)["create_workspaces"]  # error


def not_a_person(access: WorkspaceAccess, doc: DocumentAccess) -> None:
    workspaces.workspace_create(actor="priya@example.org", name="Ward 9")  # error
    documents.document_rename(actor=AnonymousUser(), doc_access=doc, name="x")  # error
    workspaces.lock_access(actor=None, access=access)  # error
"""


def test_each_literal_names_the_keys_of_its_dict():
    for names, typed_dict in PAIRS:
        assert set(get_args(names)) == set(typed_dict.__required_keys__), typed_dict.__name__
        assert not typed_dict.__optional_keys__, typed_dict.__name__


DEFAULT_DOWNLOADS: DownloadSettings = {
    "editor": DownloadRule.EVERYONE,
    "commenter": DownloadRule.STAFF,
    "viewer": DownloadRule.STAFF,
}


def test_the_abilities_returned_have_exactly_the_typed_keys():
    for role in [*Role.values, None]:
        for archived in (False, True):
            for guest in (False, True):
                got = abilities_for_role(
                    role, archived=archived, guest=guest, downloads=DEFAULT_DOWNLOADS
                )
                assert set(got) == set(ABILITY_NAMES)
    assert set(no_abilities()) == set(ABILITY_NAMES)
    assert not any(no_abilities().values())


@pytest.mark.slow
@pytest.mark.no_database
def test_mypy_reports_every_misspelt_ability_and_non_person_actor(tmp_path):
    snippet = tmp_path / "misspelt.py"
    snippet.write_text(textwrap.dedent(SNIPPET))
    expected = {
        number
        for number, line in enumerate(snippet.read_text().splitlines(), start=1)
        if "# error" in line
    }
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--cache-dir",
            str(tmp_path / "mypy-cache"),
            "--no-error-summary",
            "--hide-error-context",
            str(snippet),
        ],
        cwd=ROOT,
        env={**os.environ, "MYPYPATH": str(SRC)},
        capture_output=True,
        text=True,
        timeout=240,
    )
    reported = {
        int(m.group(1))
        # mypy names the file relative to its working folder when it lies inside it (a
        # checkout whose temporary folder is under it), by its absolute path otherwise.
        for m in re.finditer(r"^(?:.*/)?misspelt\.py:(\d+): error:", result.stdout, re.M)
    }
    assert reported == expected, result.stdout + result.stderr
    assert result.returncode == 1


# Templates are not type-checked: each way a template reaches an abilities dict, and which dict
# it is. A template reaching abilities some other way fails the test until it is added here.
TEMPLATE_DICTS: list[tuple[str, str, Any]] = [
    # (template folder or "" for any, expression before ".<name>", the dict)
    ("", "account_abilities", AccountAbilities),
    ("", "access.abilities", WorkspaceAbilities),
    ("documents", "abilities", DocumentAbilities),
    ("comments", "abilities", DocumentAbilities),
    ("comments", "thread.can", CommentAbilities),
    ("comments", "c.can", CommentAbilities),
    ("conversations", "abilities", ConversationAbilities),
    ("conversations", "can", MessageAbilities),
    ("suggestions", "s.can", SuggestionAbilities),
    ("approvals", "r.can", ApprovalAbilities),
]
_REFERENCE = re.compile(r"(?<![\w.])((?:\w+\.)*?(?:account_abilities|abilities|can))\.(\w+)")


def test_templates_name_only_abilities_that_exist():
    found = 0
    wrong = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        folder = path.relative_to(TEMPLATES).parts[0]
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            for match in _REFERENCE.finditer(line):
                expression, name = match.groups()
                rule = next(
                    (
                        typed
                        for where, prefix, typed in TEMPLATE_DICTS
                        if where in ("", folder) and expression == prefix
                    ),
                    None,
                )
                where = f"{path.relative_to(TEMPLATES)}:{number}"
                if rule is None:
                    wrong.append(f"{where}: {expression}.{name} is not a known abilities dict")
                elif name not in rule.__required_keys__:
                    wrong.append(f"{where}: {rule.__name__} has no ability {name!r}")
                else:
                    found += 1
    assert not wrong, "\n".join(wrong)
    assert found > 30  # the pages do ask: the pattern still finds them


def test_no_code_reads_abilities_with_get():
    """``abilities.get("uplaod")`` type-checks (a TypedDict's ``get`` takes any key) and would
    deny in silence: abilities are read with ``[...]`` or ``can()``."""
    pattern = re.compile(r"(abilities|abilities\(.*\)|\bcan)\.get\(")
    offenders = [
        f"{path.relative_to(SRC)}:{number}"
        for path in (SRC / "commonroom").rglob("*.py")
        if "tests" not in path.parts
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if pattern.search(line)
    ]
    assert not offenders, offenders
