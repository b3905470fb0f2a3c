"""The notifications part of the JSON API (mounted on /api/v1/ by commonroom/api.py)."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["notifications"])
