"""The search text a converter collects, stopped at a limit (so a huge file gives bounded text)."""

from __future__ import annotations


class SearchText:
    """Words added in order, up to ``limit`` characters; ``cut`` says whether some were left out."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.size = 0
        self.parts: list[str] = []
        self.cut = False

    def add(self, text: str) -> None:
        text = text.strip()
        if not text or self.cut:
            return
        if self.size + len(text) > self.limit:
            self.cut = True
            text = text[: max(self.limit - self.size, 0)]
        self.parts.append(text)
        self.size += len(text) + 1

    def text(self) -> str:
        return "\n".join(self.parts)
