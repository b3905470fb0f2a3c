"""``commonroom token create EMAIL NAME [--scope write]``: a personal access token for scripts."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from commonroom.accounts.models import TokenScope
from commonroom.accounts.services import token_create


class Command(BaseCommand):
    help = "Create an API token for a person; the secret is printed once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["create"])
        parser.add_argument("email")
        parser.add_argument("name")
        parser.add_argument("--scope", choices=TokenScope.values, default=TokenScope.READ)

    def handle(self, *args: Any, **options: Any) -> None:
        user = get_user_model().objects.filter(email__iexact=options["email"]).first()
        if user is None:
            raise CommandError(f"no such person: {options['email']}")
        issued = token_create(actor=user, name=options["name"], scope=options["scope"])
        self.stdout.write(issued.secret)
