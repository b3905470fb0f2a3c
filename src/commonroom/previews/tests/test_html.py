"""The preview sanitiser keeps only links that go somewhere on the web or to an email address.

A relative link in a document (``/accounts/logout/``, ``../other.docx``, ``//elsewhere``, ``?x``,
``#p-3``) would be followed from our own origin, with the reader's session: it keeps its words
and loses its target. The sanitiser library alone lets relative URLs through; our attribute
filter is what drops them, so these tests fail without it. Absolute ``http``/``https``/``mailto``
links are kept (so the tests do not pass merely because every link is stripped).
"""

from __future__ import annotations

from pathlib import Path

import nh3
import pytest
from docx import Document

from commonroom.previews.converters import docx, text
from commonroom.previews.html import document_html, from_sandbox, sanitise
from commonroom.previews.tests.files import _hyperlink

RELATIVE = [
    "/accounts/logout/",
    "/w/00000000-0000-0000-0000-000000000000/settings/",
    "../../secrets/minutes.docx",
    "minutes.docx",
    "./minutes.docx",
    "//evil.example/phish",
    "\\\\evil.example\\share",
    "?action=delete",
    "#p-3",
    " /admin/",
    "https:/missing-slash",
    "",
]
KEPT = [
    "https://www.nhs.uk/",
    "http://example.org/a?b=c",
    "HTTPS://WWW.NHS.UK/",
    "mailto:a@nhs.net",
]


def test_the_library_alone_would_keep_a_relative_link():
    """Why the filter exists: without it, the allow-list of schemes lets relative URLs by."""
    cleaned = nh3.clean('<a href="/accounts/logout/">x</a>', url_schemes={"http", "https"})
    assert 'href="/accounts/logout/"' in cleaned


@pytest.mark.parametrize("clean", [sanitise, from_sandbox, document_html])
@pytest.mark.parametrize("href", RELATIVE)
def test_a_relative_link_keeps_its_words_and_loses_its_target(clean, href):
    html = clean(f'<p>See <a href="{href}" title="t">the minutes</a>.</p>')
    assert "href" not in html
    assert '<a rel="noopener noreferrer" title="t">the minutes</a>' in html


@pytest.mark.parametrize("clean", [sanitise, from_sandbox, document_html])
@pytest.mark.parametrize("href", KEPT)
def test_a_web_or_email_link_is_kept(clean, href):
    html = clean(f'<p><a href="{href}">there</a></p>')
    assert f'<a href="{href}" rel="noopener noreferrer">there</a>' in html


@pytest.mark.parametrize(
    "src", ["/media/x.png", "x.png", "//evil.example/x.png", "{{file:x.png}}y"]
)
def test_an_image_from_anywhere_but_the_previews_own_files_loses_its_source(src):
    assert from_sandbox(f'<img src="{src}" alt="chart">') == '<img alt="chart">'


def test_relative_links_in_a_word_document_are_not_followed_from_the_preview(tmp_path: Path):
    doc = Document()
    paragraph = doc.add_paragraph("Read ")
    _hyperlink(paragraph, "../secrets/minutes.docx", "the old minutes")
    paragraph = doc.add_paragraph("or ")
    _hyperlink(paragraph, "/accounts/logout/", "sign out")
    paragraph = doc.add_paragraph("or visit ")
    _hyperlink(paragraph, "https://www.nhs.uk/", "the NHS website")
    source = tmp_path / "links.docx"
    doc.save(str(source))
    out = tmp_path / "out"
    out.mkdir()

    html = docx.convert(source, out).html

    assert '<a rel="noopener noreferrer">the old minutes</a>' in html
    assert '<a rel="noopener noreferrer">sign out</a>' in html
    assert '<a href="https://www.nhs.uk/" rel="noopener noreferrer">the NHS website</a>' in html
    assert "secrets" not in html and "/accounts/" not in html


def test_relative_links_in_markdown_are_not_followed_from_the_preview(tmp_path: Path):
    source = tmp_path / "readme.md"
    source.write_text(
        "[sign out](/accounts/logout/) and [up](../x.md) and [ref][r] and [web](https://nhs.uk)\n\n"
        "[r]: //evil.example/\n"
    )
    out = tmp_path / "out"
    out.mkdir()

    html = text.convert_md(source, out).html

    for words in ("sign out", "up", "ref"):
        assert f'<a rel="noopener noreferrer">{words}</a>' in html
    assert '<a href="https://nhs.uk" rel="noopener noreferrer">web</a>' in html
    assert "/accounts/" not in html and "evil.example" not in html
