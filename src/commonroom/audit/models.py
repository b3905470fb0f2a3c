"""The append-only audit trail: one HMAC chain per workspace, and one for events outside any.

Invariants:
- rows are only ever inserted, by :func:`commonroom.audit.services.audit_record`, inside the
  transaction of the action they record and as its last write (the action and its record commit
  or vanish together, and the chain's head is locked only from that write to the commit);
- a row's chain is its ``workspace_id`` (``None``: the chain of events outside workspaces, key
  ``"system"``); ``seq`` runs 1, 2, 3... without gaps within a chain; ``hash`` = HMAC-SHA-256,
  keyed with the audit key kept outside the database, over the row's fields and the previous
  row's hash; :class:`AuditChainHead` holds each chain's last seq and hash;
- checkpoints (``audit.checkpoint`` rows in the system chain, and the same heads appended to a
  file outside the database) tie the heads together, so a chain's tail removed with its head
  moved back is found (``commonroom audit verify``);
- rows hold plain ids and labels, never foreign keys, so nothing that happens to a user, document
  or workspace later can change or delete a row;
- ``action`` is a plain string: :class:`Action` lists the ones in use with their words, and the
  field has no ``choices``, so a new action needs no migration.
"""

from __future__ import annotations

from django.db import models
from django.db.models import F
from django.db.models.functions import Upper
from django.utils import timezone

# The actions are constants, not data: other apps name them from actions.py.
from commonroom.audit.actions import Action as Action
from commonroom.audit.actions import action_label as action_label

GENESIS_HASH = "0" * 64
SYSTEM_CHAIN = "system"  # the key of the chain of events outside any workspace


def chain_key(workspace_id: object) -> str:
    """The key of the chain an event of ``workspace_id`` belongs to."""
    return SYSTEM_CHAIN if workspace_id is None else str(workspace_id)


class AuditEvent(models.Model):
    seq = models.BigIntegerField()  # the row's place in its chain (unique per chain)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    action = models.CharField(max_length=40)
    actor_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    actor_email = models.CharField(max_length=254, blank=True)
    workspace_id = models.UUIDField(null=True, blank=True)
    document_id = models.UUIDField(null=True, blank=True)
    target_type = models.CharField(max_length=40, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_label = models.CharField(max_length=300, blank=True)
    ip = models.CharField(max_length=64, blank=True)
    user_agent = models.CharField(max_length=500, blank=True)
    data = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        # Newest first: ids are given under the chain's lock, so within a chain id order is seq
        # order; across chains it is the order the rows were written.
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["workspace_id", "-seq"], name="audit_ws_seq"),
            # A trail page is the newest rows below a cursor (``audit.selectors``), so each way
            # it is read leads with what it is filtered by and ends in the trail's order: the
            # page is then the first rows of one index range, whatever the trail's size.
            models.Index(fields=["workspace_id", "-id"], name="audit_ws_page"),
            # Where a date window of a workspace's trail starts and ends: two probes, since a
            # chain's times never go back (``AuditChainHead.last_at``).
            models.Index(fields=["workspace_id", "created_at", "id"], name="audit_ws_time"),
            models.Index(fields=["workspace_id", "action", "-id"], name="audit_ws_action_page"),
            models.Index(
                F("workspace_id"), Upper("actor_email"), F("id").desc(), name="audit_ws_person_page"
            ),
            # A document is in one workspace: its rows need no workspace before them.
            models.Index(fields=["document_id", "-id"], name="audit_document_page"),
            models.Index(fields=["action", "-id"], name="audit_action_page"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["workspace_id", "seq"], name="audit_chain_seq"),
            models.UniqueConstraint(
                fields=["seq"],
                condition=models.Q(workspace_id__isnull=True),
                name="audit_system_chain_seq",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.chain} #{self.seq} {self.action} by {self.actor_email or 'system'}"

    @property
    def chain(self) -> str:
        return chain_key(self.workspace_id)

    @property
    def action_label(self) -> str:
        return action_label(self.action)


class AuditChainHead(models.Model):
    """The head of one chain: its last seq and hash. Locked while a row is appended to the chain
    (and only then: from the action's last write to its commit), so two workspaces' actions never
    wait for each other.

    ``key_id`` names the audit key the chain is written with (an HMAC of a fixed text: it reveals
    nothing of the key). A process with another key refuses to append rather than write rows that
    would never verify."""

    chain = models.CharField(primary_key=True, max_length=36)  # workspace id, or "system"
    seq = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64, default=GENESIS_HASH)
    key_id = models.CharField(max_length=16)
    # The latest time the chain has recorded, and whether every row's time is at or after the
    # time of the row before it: while it is, time order is id order and a date window of the
    # chain is an id range (``audit.selectors.audit_events``). A clock a moment behind another
    # server's is absorbed (``audit.services.CLOCK_SKEW``); one set back further, or a row
    # written under a clock set forward, turns it off for good (decision 45).
    last_at = models.DateTimeField(null=True, blank=True)
    times_in_order = models.BooleanField(default=True)

    def __str__(self) -> str:
        return f"audit chain {self.chain} head #{self.seq}"


class ReadingAudited(models.Model):
    """When a person's reading of one thing (a document's version, its preview, two versions
    compared) was last written to the trail: a reading is audited once per person, thing read
    and ``audit.services.READING_WINDOW``, so a reader fetching a preview again and again writes
    one row, not one a fetch. Shared by every server process (it is in the database); not part
    of the trail (rows are moved forward and pruned: the trail holds what was read)."""

    actor_id = models.BigIntegerField()
    action = models.CharField(max_length=40)
    subject = models.CharField(max_length=120)  # e.g. "<document id>:<version number>"
    audited_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["actor_id", "action", "subject"], name="audit_reading_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.action} of {self.subject} by {self.actor_id} at {self.audited_at}"
