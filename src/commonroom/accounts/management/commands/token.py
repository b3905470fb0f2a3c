"""``commonroom token create EMAIL NAME [--scope write] [--allow-guest]``: a personal access
token for scripts.

An external guest gets one only when allowed API tokens (``accounts.permissions``), as on the
tokens page; ``--allow-guest`` gives them the administrator's allowance first (audited), as an
administrator would on the admin site.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from commonroom.accounts.models import TokenScope
from commonroom.accounts.permissions import api_tokens_refusal
from commonroom.accounts.services import guest_api_tokens_allow, token_create
from commonroom.core.exceptions import ApplicationError


class Command(BaseCommand):
    help = "Create an API token for a person; the secret is printed once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["create"])
        parser.add_argument("email")
        parser.add_argument("name")
        parser.add_argument("--scope", choices=TokenScope.values, default=TokenScope.READ)
        parser.add_argument(
            "--allow-guest",
            action="store_true",
            help=(
                "for an external guest not allowed API tokens: allow them (recorded in the "
                "audit trail; undo on the admin site) and create the token"
            ),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        user = get_user_model().objects.filter(email__iexact=options["email"]).first()
        if user is None:
            raise CommandError(f"no such person: {options['email']}")
        if options["allow_guest"] and api_tokens_refusal(user) is not None:
            guest_api_tokens_allow(person=user)
            self.stderr.write(f"{user.email} (an external guest) may now create API tokens.")
        try:
            issued = token_create(actor=user, name=options["name"], scope=options["scope"])
        except ApplicationError as exc:
            hint = " Add --allow-guest to allow them." if exc.code == "tokens_not_allowed" else ""
            raise CommandError(exc.message + hint) from None
        self.stdout.write(issued.secret)
