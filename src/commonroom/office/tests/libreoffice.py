"""LibreOffice as an independent reader of the files the engine writes.

``soffice --convert-to txt`` shows a tracked change's deleted and inserted text side by side, so
it cannot tell what a file says once its changes are accepted. A small LibreOffice Basic macro,
installed in a throwaway profile, opens the file, lists its tracked changes (type, author, date)
and comments (author, text, the passage they are on), accepts every change with LibreOffice's
own "Accept All" and saves the text.

Absent LibreOffice, the tests that need it are skipped loudly on a developer's machine and fail
when ``CI=true``, as the PostgreSQL run does.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

import pytest

SOFFICE = shutil.which("soffice")
TIMEOUT = 180

MACRO = """
Sub Inspect(inPath As String, reportPath As String, textPath As String)
  On Error Goto Failed
  Dim report As Integer
  report = FreeFile
  Open reportPath For Output As #report
  Dim args(0) As New com.sun.star.beans.PropertyValue
  args(0).Name = "Hidden"
  args(0).Value = True
  Dim doc As Object
  doc = StarDesktop.loadComponentFromURL(ConvertToURL(inPath), "_blank", 0, args())
  Dim redlines As Object
  redlines = doc.Redlines.createEnumeration()
  Do While redlines.hasMoreElements()
    Dim r As Object
    r = redlines.nextElement()
    Dim d As Object
    d = r.RedlineDateTime
    Print #report, "REDLINE" & Chr(9) & r.RedlineType & Chr(9) & r.RedlineAuthor & Chr(9) & _
      Format(d.Year, "0000") & "-" & Format(d.Month, "00") & "-" & Format(d.Day, "00") & _
      "T" & Format(d.Hours, "00") & ":" & Format(d.Minutes, "00")
  Loop
  Dim fields As Object
  fields = doc.TextFields.createEnumeration()
  Do While fields.hasMoreElements()
    Dim f As Object
    f = fields.nextElement()
    If f.supportsService("com.sun.star.text.TextField.Annotation") Then
      Print #report, "COMMENT" & Chr(9) & f.Author & Chr(9) & _
        Replace(f.Content, Chr(10), " ") & Chr(9) & f.Anchor.getString()
    End If
  Loop
  Dim dispatcher As Object
  dispatcher = createUnoService("com.sun.star.frame.DispatchHelper")
  dispatcher.executeDispatch(doc.CurrentController.Frame, ".uno:AcceptAllTrackedChanges", _
    "", 0, Array())
  Dim out(0) As New com.sun.star.beans.PropertyValue
  out(0).Name = "FilterName"
  out(0).Value = "Text (encoded)"
  doc.storeToURL(ConvertToURL(textPath), out())
  doc.close(True)
  Print #report, "DONE"
  Close #report
  Exit Sub
Failed:
  Print #report, "ERROR" & Chr(9) & Error$ & " at line " & Erl
  Close #report
End Sub
"""


def require_soffice() -> str:
    """The soffice path; a loud skip without it, or a failure when CI=true."""
    if SOFFICE is None:
        message = (
            "!!! LibreOffice (soffice) is not installed: the tests that read the written files "
            "with LibreOffice are SKIPPED (make test installs libreoffice-writer) !!!"
        )
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true: a missing LibreOffice is a failure. " + message)
        pytest.skip(message)
    return SOFFICE


@dataclass
class Reading:
    """What LibreOffice read in a file."""

    revisions: list[tuple[str, str, str]] = field(default_factory=list)  # type, author, minute
    comments: list[tuple[str, str, str]] = field(default_factory=list)  # author, text, passage
    accepted_text: str = ""


class LibreOffice:
    def __init__(self, soffice: str, workdir: Path) -> None:
        self.soffice = soffice
        self.workdir = workdir
        self.profile = workdir / "profile"
        self._run(["--terminate_after_init"])
        module = self.profile / "user" / "basic" / "Standard" / "Module1.xba"
        module.write_text(
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<script:module xmlns:script="http://openoffice.org/2000/script" '
            'script:name="Module1" script:language="StarBasic">'
            + escape(MACRO, {'"': "&quot;"})
            + "</script:module>",
            encoding="utf-8",
        )
        self._count = 0

    def _run(self, arguments: list[str]) -> None:
        subprocess.run(
            [self.soffice, f"-env:UserInstallation={self.profile.as_uri()}", "--headless",
             "--invisible", "--norestore", *arguments],
            check=True, capture_output=True, timeout=TIMEOUT,
            env={**os.environ, "TZ": "UTC"},  # revision times are shown in local time
        )  # fmt: skip

    def _file(self, data: bytes, suffix: str) -> Path:
        self._count += 1
        path = self.workdir / f"file{self._count}{suffix}"
        path.write_bytes(data)
        return path

    def text(self, docx: bytes) -> str:
        """``soffice --convert-to txt:Text``: the file as plain text, as LibreOffice reads it."""
        source = self._file(docx, ".docx")
        outdir = self.workdir / f"out{self._count}"
        self._run(["--convert-to", "txt:Text", "--outdir", str(outdir), str(source)])
        return (outdir / (source.stem + ".txt")).read_text(encoding="utf-8-sig")

    def read(self, docx: bytes) -> Reading:
        """The file's tracked changes and comments, and its text with every change accepted."""
        source = self._file(docx, ".docx")
        report = self.workdir / f"report{self._count}.txt"
        text = self.workdir / f"accepted{self._count}.txt"
        self._run([f'macro:///Standard.Module1.Inspect("{source}","{report}","{text}")'])
        lines = report.read_text(encoding="utf-8", errors="replace").splitlines()
        assert lines and lines[-1] == "DONE", lines
        reading = Reading(accepted_text=text.read_text(encoding="utf-8-sig"))
        for line in lines:
            kind, *rest = line.split("\t")
            if kind == "REDLINE":
                reading.revisions.append((rest[0], rest[1], rest[2]))
            elif kind == "COMMENT":
                reading.comments.append((rest[0], rest[1], rest[2]))
        return reading
