"""Office files (OOXML: .docx, .xlsx, .pptx) read safely and written back changed in place.

A pure library: no Django models, no request, no storage. It imports nothing from commonroom
except ``commonroom.core`` (the import-linter contract ``office-is-a-library`` keeps it so),
so documents, previews and later apps may all use it.

- ``package.py``: the zip, opened under caps (members, sizes, ratios) with XML parsed without
  DTDs or entities, and saved with every part it did not change copied byte for byte.
- ``wordedit.py``: a Word file's paragraphs as a reader sees them, changed by suggestions:
  accepted in place, written as Word's own tracked changes and comments, or with a file's
  existing tracked changes accepted.

Every refusal is an :class:`OfficeFileError` whose message is a sentence for people.
"""

from commonroom.office.package import OfficeFileError, Package

__all__ = ["OfficeFileError", "Package"]
