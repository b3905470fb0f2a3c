"""How the serving process's Python garbage collector is set: once, before it takes requests.

Python's cyclic collector looks through every object it tracks in a full collection, and runs
one each time enough objects have outlived two younger collections. A server holding 1,000
open sockets is the worst case for both: the code and data loaded at start (some 200,000
objects) are looked through every time, and each message to 1,000 sockets leaves 1,000 sockets'
worth of tasks and frames alive across young collections (each lives until that socket's next
message), so a full collection, pausing every socket for hundreds of milliseconds, came every
few comments (docs/benchmarks.md, "Live fan-out").

So, once loaded: what is there is frozen (``gc.freeze``: kept, never looked through again, as
it would never be freed anyway), and young collections wait for ``YOUNG_THRESHOLD`` new objects
instead of Python's 700, so fewer short-lived objects are caught alive and promoted. Garbage
without cycles is freed as soon as it is dropped, as ever; only cycles wait a little longer.
"""

from __future__ import annotations

import gc

# New objects (less those freed) before a young collection; Python's default is 700.
YOUNG_THRESHOLD = 50_000
# Young collections before a middle one (Python's default: 10); middle before a full one (10).
MIDDLE_THRESHOLD = 20
FULL_THRESHOLD = 10


def settle_for_serving() -> None:
    """Collect once, freeze what is loaded, and set the thresholds above. Call it in a
    serving process after the application is imported, before requests arrive."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, MIDDLE_THRESHOLD, FULL_THRESHOLD)
