"""Markdown-lite: what renders, what is made inert, and how mentions resolve."""

from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser

import pytest

from commonroom.core.exceptions import ApplicationError
from commonroom.core.markup import as_text, mention_handles, render, resolver_for


@dataclass
class Person:
    pk: int
    email: str
    display_name: str


PRIYA = Person(1, "priya@example.org", "Priya Shah")
TOM = Person(2, "tom@example.org", "Tom <Evans>")
TOM_ELSEWHERE = Person(3, "tom@nhs.net", "Tom Other")
resolve = resolver_for([PRIYA, TOM])


@pytest.mark.parametrize(
    ("typed", "html"),
    [
        ("**bold** and _italic_", "<p><strong>bold</strong> and <em>italic</em></p>"),
        ("- one\n- two", "<ul>\n<li>one</li>\n<li>two</li>\n</ul>"),
        ("1. one\n2. two", "<ol>\n<li>one</li>\n<li>two</li>\n</ol>"),
        ("> quoted", "<blockquote>\n<p>quoted</p>\n</blockquote>"),
        ("`x < y`", "<p><code>x &lt; y</code></p>"),
        (
            "```\nif x < y:\n    **not bold**\n```",
            "<pre><code>if x &lt; y:\n    **not bold**\n</code></pre>",
        ),
        ("```python\nprint(1)\n```", "<pre><code>print(1)\n</code></pre>"),
        ("line one\nline two", "<p>line one<br>\nline two</p>"),
        (
            "[NHS](https://www.nhs.uk)",
            '<p><a href="https://www.nhs.uk" rel="noopener noreferrer">NHS</a></p>',
        ),
        (
            "see https://example.org/a",
            '<p>see <a href="https://example.org/a" rel="noopener noreferrer">'
            "https://example.org/a</a></p>",
        ),
    ],
)
def test_markdown_lite_renders_what_it_offers(typed: str, html: str) -> None:
    assert render(typed).html.strip() == html


def elements(html: str) -> list[tuple[str, dict[str, str | None]]]:
    """The real elements of ``html`` (tag, attributes), as a browser would parse them."""
    found: list[tuple[str, dict[str, str | None]]] = []

    class Collect(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            found.append((tag, dict(attrs)))

    Collect().feed(html)
    return found


@pytest.mark.parametrize(
    "attack",
    [
        "<script>alert(1)</script>",
        '<img src=x onerror="alert(1)">',
        "[x](javascript:alert(1))",
        "[x](JaVaScRiPt:alert(1))",
        "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        "[x](vbscript:msgbox(1))",
        '<a href="javascript:alert(1)">x</a>',
        "<svg onload=alert(1)>",
        "<iframe src=https://evil.example></iframe>",
        '[x](https://a.example "title" onmouseover="alert(1)")',
        "![img](https://evil.example/track.png)",
        "# heading <style>body{display:none}</style>",
        '```js" onmouseover="alert(1)\nx\n```',
        "```<script>alert(1)</script>\n<img src=x onerror=alert(1)>\n```",
    ],
)
def test_nothing_typed_becomes_markup_that_can_run_or_load(attack: str) -> None:
    for tag, attrs in elements(render(attack).html):
        assert tag in {
            "p",
            "br",
            "strong",
            "em",
            "a",
            "ul",
            "ol",
            "li",
            "blockquote",
            "pre",
            "code",
        }
        assert set(attrs) <= {"href", "rel"}, attrs
        if tag == "a":
            assert str(attrs["href"]).startswith(("http://", "https://", "mailto:")), attrs
            assert attrs["rel"] == "noopener noreferrer"


def test_mentions_resolve_by_address_or_unique_local_part_and_are_labelled() -> None:
    rendered = render("@priya and @tom@example.org, please check", resolve=resolve)
    assert [p.pk for p in rendered.mentioned] == [1, 2]
    assert '<span class="cr-mention">@Priya Shah</span>' in rendered.html
    # The display name is text, never markup.
    assert '<span class="cr-mention">@Tom &lt;Evans&gt;</span>' in rendered.html


def test_a_mention_of_a_non_member_is_refused_not_dropped() -> None:
    with pytest.raises(ApplicationError) as refused:
        render("@nobody can you look?", resolve=resolve)
    assert refused.value.code == "unknown_mention"
    assert "@nobody" in refused.value.message


def test_a_local_part_two_members_share_must_be_written_in_full() -> None:
    both = resolver_for([TOM, TOM_ELSEWHERE])
    with pytest.raises(ApplicationError):
        render("@tom?", resolve=both)
    assert render("@tom@nhs.net?", resolve=both).mentioned == [TOM_ELSEWHERE]


def test_email_addresses_and_link_text_are_not_mentions() -> None:
    assert mention_handles("write to bob@nhs.net or see a/@b") == []
    rendered = render("[@priya](https://example.org) @priya", resolve=resolve)
    assert rendered.html.count("cr-mention") == 1


@pytest.mark.parametrize(
    ("typed", "html"),
    [
        ("@Priya Shah, please", "<p>@Priya Shah, please</p>"),
        ("@priya shah's figures", "<p>@Priya Shah's figures</p>"),
        ("@priya@example.org Shah?", "<p>@Priya Shah?</p>"),
        ("@priya  SHAH\nnext", "<p>@Priya Shah<br>\nnext</p>"),
        # Only the rest of the name, whole, and never more.
        ("@priya Shahs", "<p>@Priya Shah Shahs</p>"),
        ("@priya Sharma", "<p>@Priya Shah Sharma</p>"),
        ("@priya Shah Shah", "<p>@Priya Shah Shah</p>"),
        ("@priya. Shah", "<p>@Priya Shah. Shah</p>"),
        ("@tom Evans", "<p>@Tom &lt;Evans&gt; Evans</p>"),
        ("@tom <Evans>", "<p>@Tom &lt;Evans&gt;</p>"),
    ],
)
def test_a_name_typed_after_a_handle_is_part_of_the_mention(typed: str, html: str) -> None:
    rendered = render(typed, resolve=resolve)
    expected = html.replace("@Priya Shah", '<span class="cr-mention">@Priya Shah</span>').replace(
        "@Tom &lt;Evans&gt;", '<span class="cr-mention">@Tom &lt;Evans&gt;</span>'
    )
    assert rendered.html.strip() == expected
    assert len(rendered.mentioned) == 1


def test_a_repeated_name_is_not_swallowed_when_the_handle_is_not_its_first_word() -> None:
    someone = Person(4, "ps@example.org", "Priya Shah")
    html = render("@ps Shah", resolve=resolver_for([someone])).html
    assert html.strip() == '<p><span class="cr-mention">@Priya Shah</span> Shah</p>'


def test_code_mentions_no_one() -> None:
    rendered = render("`@priya`\n\n```\n@property\ndef x(): ...\n```\n\n@tom", resolve=resolve)
    assert rendered.mentioned == [TOM]
    assert "<code>@priya</code>" in rendered.html and "@property" in rendered.html
    assert rendered.html.count("cr-mention") == 1


def test_as_text_gives_the_words_without_marks() -> None:
    html = render("**Action 4** has no owner.\n\nCould @priya add one?", resolve=resolve).html
    assert as_text(html) == "Action 4 has no owner. \nCould @Priya Shah add one? \n"
