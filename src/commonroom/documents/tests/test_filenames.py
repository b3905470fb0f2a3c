"""Whatever name a client sends becomes a safe, readable document name, or a clear refusal."""

from __future__ import annotations

import pytest

from commonroom.core.exceptions import ApplicationError
from commonroom.documents.filenames import MAX_NAME, clean_filename


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("minutes.docx", "minutes.docx"),
        ("../../etc/passwd", "passwd"),
        ("..\\..\\boot.ini", "boot.ini"),
        ("/etc/passwd", "passwd"),
        ("C:\\Users\\priya\\minutes.docx", "minutes.docx"),
        ("minutes\x00.docx", "minutes.docx"),
        ("min\x01ut\x1fes\x7f.docx", "minutes.docx"),
        ("line\nbreak\r\ttab.txt", "linebreaktab.txt"),
        # "invoice" + RLO + "xcod.exe" shows as "invoiceexe.docx"; the override goes.
        ("invoice\u202excod.exe", "invoicexcod.exe"),
        ("a\u2066b\u2069c\u200e\u200f\u061c\ufeff.txt", "abc.txt"),
        ("  spaced   out  .txt  ", "spaced out .txt"),
        ("...hidden.txt", "hidden.txt"),
        ("trailing.txt...", "trailing.txt"),
        ("CON.txt", "_CON.txt"),
        ("lpt1", "_lpt1"),
        ("Cafe\u0301.txt", "Caf\u00e9.txt"),  # NFC
    ],
)
def test_names_are_made_safe(raw, expected):
    assert clean_filename(raw) == expected


@pytest.mark.parametrize(
    "raw", ["", ".", "..", "...", "....", " . ", "../", "/", "a/..", "\x00", "\u202e", "\u202e.."]
)
def test_names_with_nothing_usable_are_refused(raw):
    with pytest.raises(ApplicationError) as exc:
        clean_filename(raw)
    assert exc.value.code == "invalid_filename"
    assert exc.value.status == 400
    assert "no usable characters" in exc.value.message


def test_a_long_name_is_shortened_to_255_keeping_the_extension():
    name = clean_filename("x" * 300 + ".pdf")
    assert len(name) == MAX_NAME == 255
    assert name == "x" * 251 + ".pdf"


def test_a_long_name_with_multibyte_characters_keeps_its_extension():
    name = clean_filename("é" * 400 + ".docx")
    assert len(name) == 255 and name.endswith("é.docx")


def test_a_long_name_without_a_sensible_extension_is_cut():
    name = clean_filename("y" * 300)
    assert name == "y" * 255
    odd = clean_filename("a." + "b" * 300)  # an "extension" longer than 16 is not kept whole
    assert len(odd) == 255 and odd.startswith("a.b")
