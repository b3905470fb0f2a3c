"""The sandbox child's entry point, and the registry of converters (format -> converter).

Run as ``python -m commonroom.previews.convert <format> <source> <outdir>`` by
``previews/sandbox.py`` (through ``core/sandbox.py``): ``core.sandbox_child.serve`` limits its
memory, CPU time and file sizes and shuts it in first, then it runs the converter and prints one
JSON object on its standard output: ``{"ok": true, "result": {...}}`` (a :class:`Result`) or
``{"ok": false, "message": "<why, for people>"}``. Nothing here imports Django.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
import traceback
from pathlib import Path, PurePosixPath
from typing import Any, cast

from commonroom.core.sandbox_child import serve
from commonroom.previews.converters.base import Converter, Refused, Result

# format -> "module:function". Imported only when that format is converted, in the child.
CONVERTERS: dict[str, str] = {
    "docx": "commonroom.previews.converters.docx:convert",
    "txt": "commonroom.previews.converters.text:convert_txt",
    "md": "commonroom.previews.converters.text:convert_md",
    "csv": "commonroom.previews.converters.text:convert_csv",
    "xlsx": "commonroom.previews.converters.xlsx:convert",
    "pptx": "commonroom.previews.converters.pptx:convert",
    "image": "commonroom.previews.converters.image:convert",
    "pdf": "commonroom.previews.converters.pdf:convert",
}

# Converters that misbehave on purpose, for the sandbox's tests only: available only when the
# environment says so (the tests set it; nothing else does).
TEST_CONVERTERS: dict[str, str] = {
    "test-sleep": "commonroom.previews.tests.misbehaving:sleep",
    "test-slow": "commonroom.previews.tests.misbehaving:slow",
    "test-allocate": "commonroom.previews.tests.misbehaving:allocate",
    "test-crash": "commonroom.previews.tests.misbehaving:crash",
    "test-noisy": "commonroom.previews.tests.misbehaving:noisy",
    "test-hostile": "commonroom.previews.tests.misbehaving:hostile",
    "test-escape": "commonroom.previews.tests.misbehaving:escape",
}
TEST_CONVERTERS_ENV = "COMMONROOM_PREVIEW_TEST_CONVERTERS"

BY_EXTENSION: dict[str, str] = {
    ".docx": "docx",
    ".txt": "txt",
    ".text": "txt",
    ".log": "txt",
    ".md": "md",
    ".markdown": "md",
    ".csv": "csv",
    ".xlsx": "xlsx",
    ".pptx": "pptx",
    ".pdf": "pdf",
    ".png": "image",
    ".jpg": "image",
    ".jpeg": "image",
    ".gif": "image",
    ".webp": "image",
    ".bmp": "image",
    ".tif": "image",
    ".tiff": "image",
    # Refused by the image converter with a sentence (an SVG can carry script).
    ".svg": "image",
    # A macro-enabled workbook is read like any other; its macros are never run.
    ".xlsm": "xlsx",
}
BY_CONTENT_TYPE: dict[str, str] = {
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "text/plain": "txt",
    "text/markdown": "md",
    "text/x-markdown": "md",
    "text/csv": "csv",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "pptx",
    "application/pdf": "pdf",
    "image/png": "image",
    "image/jpeg": "image",
    "image/gif": "image",
    "image/webp": "image",
    "image/bmp": "image",
    "image/tiff": "image",
    "image/svg+xml": "image",
    "application/vnd.ms-excel.sheet.macroenabled.12": "xlsx",
}


def registry() -> dict[str, str]:
    if os.environ.get(TEST_CONVERTERS_ENV) == "1":
        return {**CONVERTERS, **TEST_CONVERTERS}
    return dict(CONVERTERS)


def format_for(content_type: str, filename: str) -> str | None:
    """The format a version is previewed as, or ``None`` when there is no converter for it. The
    name's extension decides first (a .md is text/plain to most detectors), then the type."""
    known = registry()
    suffix = PurePosixPath(filename.lower()).suffix
    fmt = BY_EXTENSION.get(suffix)
    if fmt is None:
        fmt = BY_CONTENT_TYPE.get(content_type.split(";")[0].strip().lower())
    return fmt if fmt in known else None


def converter_for(fmt: str) -> Converter:
    target = registry().get(fmt)
    if target is None:
        raise Refused("There is no preview for this kind of file.")
    module_name, function = target.split(":")
    return cast(Converter, getattr(importlib.import_module(module_name), function))


def converter_name(fmt: str) -> str:
    return registry().get(fmt, "")


NOT_CONFINED = (
    "Previews are switched off on this server: it cannot shut the preview converter in. "
    "An administrator can find why in the server's log."
)


PDF_PAGE = re.compile(r"^pdf-page-([1-9][0-9]{0,5})$")


def _pdf_page(number: int, source: Path, outdir: Path) -> Result:
    """One page of a PDF drawn as ``page-<n>.png`` (pages are drawn when first asked for)."""
    from commonroom.previews.converters.base import OutputFile
    from commonroom.previews.converters.pdf import render_page

    name = f"page-{number}.png"
    render_page(source, number, outdir / name)
    return Result(kind="pdf-page", files=[OutputFile(name=name, content_type="image/png")])


def run(fmt: str, source: Path, outdir: Path) -> dict[str, Any]:
    try:
        page = PDF_PAGE.match(fmt)
        if page:
            result: Result = _pdf_page(int(page.group(1)), source, outdir)
        else:
            result = converter_for(fmt)(source, outdir)
        return {"ok": True, "result": result.as_dict()}
    except Refused as exc:
        return {"ok": False, "message": str(exc)}
    except MemoryError:
        return {"ok": False, "message": "The file needs too much memory to preview."}
    except RecursionError:
        return {"ok": False, "message": "The file is nested too deeply to preview."}
    except Exception:  # a library's surprise: the file is most likely damaged
        traceback.print_exc(file=sys.stderr)
        return {
            "ok": False,
            "message": "The file could not be read: it may be damaged or in a form the preview "
            "does not understand.",
        }


def main(argv: list[str]) -> int:
    if len(argv) != 4:
        sys.stderr.write(
            "usage: python -m commonroom.previews.convert <format> <source> <outdir>\n"
        )
        return 2
    fmt, source, outdir = argv[1], Path(argv[2]), Path(argv[3])
    return serve(
        lambda: run(fmt, source, outdir),
        read_files=[source],
        write=[outdir],
        preload=lambda: converter_for(fmt),
        refused={"message": NOT_CONFINED},
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv))
