"""The signed certificate PDF of a document's final record: a library, not an app.

``render.py`` (the document as PDF pages: LibreOffice in a confined child, a PDF as it is, or
the preview's text), ``page.py`` (the certificate page), ``signing.py`` (the installation's
signing identity, the whole PDF made and signed: :func:`signing.certificate_pdf`, and checked:
:func:`signing.verify`). It imports nothing of Commonroom but ``core`` (contract
``certificates-is-a-library``): the app that seals records fills in its facts.
"""
