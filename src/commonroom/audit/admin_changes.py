"""Changes made on Django's admin site, in the audit trail: who added, changed or deleted what,
from where, with the fields changed and their values before and after (secrets named, never
shown).

The admin site writes its own log (``LogEntry``) through each model admin's ``log_addition``,
``log_change`` and ``log_deletions``, for its own pages and for every app's (allauth's second
factors and sessions included). :func:`audit_admin_site` wraps those three methods of every
model admin registered on the site, once, when the apps are ready, so each change writes an
audit event beside the admin's log: in the admin view's transaction, after the change it logs
(a deletion is logged just before the rows go, as the admin site does). The values come from
the change form (``construct_change_message``, wrapped to keep them on the request).

A model admin registered after the apps are ready would escape: a test checks that every one
on the site is wrapped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from commonroom.audit.actions import Action
from commonroom.audit.services import audit_record
from commonroom.core.request_info import RequestInfo

WRAPPED = "_commonroom_audited"
VALUES = "_commonroom_admin_values"
# A field whose name holds one of these is named as changed, its values never written.
SECRET_WORDS = ("password", "secret", "key", "hash", "data", "token", "code")
LONGEST = 200  # characters of a value kept


def _shown(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple | set):
        return ", ".join(_shown(v) for v in value)[:LONGEST]
    return str(value)[:LONGEST]


def changed_values(form: Any) -> dict[str, list[str]]:
    """Each changed field of an admin change form: [before, after], or "(hidden)" twice."""
    found: dict[str, list[str]] = {}
    for name in form.changed_data:
        if any(word in name.lower() for word in SECRET_WORDS):
            found[name] = ["(hidden)", "(hidden)"]
            continue
        found[name] = [_shown(form.initial.get(name)), _shown(form.cleaned_data.get(name))]
    return found


def _record(request: HttpRequest, action: str, obj: Any, data: dict[str, Any]) -> None:
    label = obj._meta.label
    audit_record(
        action=action,
        actor=getattr(request, "user", None),
        info=RequestInfo.from_request(request),
        workspace_id=getattr(obj, "workspace_id", None),
        target_type=f"admin:{label}",
        target_id=str(obj.pk),
        target_label=str(obj),
        data={"model": label, **data},
    )


def _wrap(model_admin: Any) -> None:
    construct: Callable[..., Any] = model_admin.construct_change_message
    log_addition: Callable[..., Any] = model_admin.log_addition
    log_change: Callable[..., Any] = model_admin.log_change
    log_deletions: Callable[..., Any] = model_admin.log_deletions

    def construct_change_message(
        request: HttpRequest, form: Any, formsets: Any, add: bool = False
    ) -> Any:
        setattr(request, VALUES, changed_values(form))
        return construct(request, form, formsets, add)

    def audited_addition(request: HttpRequest, obj: Any, message: Any) -> Any:
        entry = log_addition(request, obj, message)
        _record(request, Action.ADMIN_ADDED, obj, {"fields": getattr(request, VALUES, {})})
        return entry

    def audited_change(request: HttpRequest, obj: Any, message: Any) -> Any:
        entry = log_change(request, obj, message)
        _record(
            request,
            Action.ADMIN_CHANGED,
            obj,
            {"fields": getattr(request, VALUES, {}), "message": message},
        )
        return entry

    def audited_deletions(request: HttpRequest, queryset: Iterable[Any]) -> Any:
        objects = list(queryset)
        entries = log_deletions(request, objects)
        for obj in objects:
            _record(request, Action.ADMIN_DELETED, obj, {})
        return entries

    model_admin.construct_change_message = construct_change_message
    model_admin.log_addition = audited_addition
    model_admin.log_change = audited_change
    model_admin.log_deletions = audited_deletions
    setattr(model_admin, WRAPPED, True)


def audit_admin_site(site: admin.AdminSite = admin.site) -> None:
    """Wrap every model admin registered on ``site`` (once each)."""
    for model_admin in site._registry.values():
        if not getattr(model_admin, WRAPPED, False):
            _wrap(model_admin)


def unaudited(site: admin.AdminSite = admin.site) -> list[str]:
    """The models on ``site`` whose admin changes would escape the trail (none, normally)."""
    return sorted(
        model._meta.label
        for model, model_admin in site._registry.items()
        if not getattr(model_admin, WRAPPED, False)
    )
