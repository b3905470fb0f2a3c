"""``{% preview_contents %}`` says what the template markup it replaced said, for every shape
of outline: none, headings alone, pages alone, both, one of each (not worth a list), and text
that must be escaped."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.template import Context, Template

from commonroom.previews.outline import Heading, Outline, PageStart
from commonroom.previews.templatetags.preview_contents import preview_contents

# The markup of previews/_preview.html before the tag drew it (``preview.outline`` as
# ``outline``).
OLD_MARKUP = Template((Path(__file__).parent / "preview_contents_template.html").read_text())

HEADINGS = [
    Heading("p-1", 1, "Minutes"),
    Heading("p-4", 2, 'Budget <b>"2026"</b> & more'),
    Heading("p-9", 3, "Actions: who does what"),
]
PAGES = [PageStart(1, "p-1"), PageStart(2, "p-7"), PageStart(3, "p-12")]


@pytest.mark.parametrize(
    "outline",
    [
        Outline(),
        Outline(headings=HEADINGS[:1]),
        Outline(pages=PAGES[:1]),
        Outline(headings=HEADINGS[:1], pages=PAGES[:1]),
        Outline(headings=HEADINGS),
        Outline(pages=PAGES),
        Outline(headings=HEADINGS[:1], pages=PAGES),
        Outline(headings=HEADINGS, pages=PAGES[:1]),
        Outline(headings=HEADINGS, pages=PAGES),
    ],
)
def test_the_contents_are_the_markups(outline: Outline) -> None:
    expected = OLD_MARKUP.render(Context({"outline": outline}))
    assert preview_contents(outline) == expected
    assert ("<details" in expected) == outline.shown


def test_headings_are_escaped() -> None:
    drawn = preview_contents(Outline(headings=HEADINGS))
    assert "Budget &lt;b&gt;&quot;2026&quot;&lt;/b&gt; &amp; more" in drawn
    assert preview_contents(None) == ""
