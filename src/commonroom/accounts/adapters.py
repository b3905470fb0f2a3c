"""How allauth behaves here: no open sign-up (people arrive by invitation or are created by an
administrator), and failed sign-ins are audited."""

from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from django.http import HttpRequest


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return False
