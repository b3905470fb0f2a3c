"""``commonroom createadmin EMAIL``: an administrator (sees the whole audit trail)."""

from __future__ import annotations

import getpass
import os
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = "Create an administrator, or make an existing person one. Password from "
    help += "COMMONROOM_ADMIN_PASSWORD or asked for."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email")
        parser.add_argument("--name", default="")

    def handle(self, *args: Any, **options: Any) -> None:
        User = get_user_model()
        email = options["email"].strip().lower()
        user = User.objects.filter(email__iexact=email).first()
        password = os.environ.get("COMMONROOM_ADMIN_PASSWORD") or (
            None if user else getpass.getpass("Password: ")
        )
        if user is None:
            user = User(email=email, full_name=options["name"])
        if password:
            try:
                validate_password(password, user=user)
            except ValidationError as exc:
                raise CommandError(" ".join(exc.messages)) from None
            user.set_password(password)
        user.is_superuser = True
        user.is_staff = True
        user.save()
        self.stdout.write(self.style.SUCCESS(f"{email} is an administrator."))
