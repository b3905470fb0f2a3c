"""The serving process's collector: settled once, before requests."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from commonroom.core import heap


@pytest.fixture
def restored() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_settling_freezes_what_is_loaded_and_collects_the_young_less_often(
    restored: None,
) -> None:
    loaded = ["made before the server settles"]
    heap.settle_for_serving()
    # Frozen: kept, and no longer among what the collector looks through.
    assert gc.get_freeze_count() > 0
    assert not any(o is loaded for o in gc.get_objects())
    made_after = ["made after"]
    assert any(o is made_after for o in gc.get_objects())
    assert gc.get_threshold() == (
        heap.YOUNG_THRESHOLD,
        heap.MIDDLE_THRESHOLD,
        heap.FULL_THRESHOLD,
    )
