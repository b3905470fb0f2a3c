"""``core.rows.maker``: a frozen, slotted dataclass made from its values without its
``__init__``, the same as its ``__init__`` makes it."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from commonroom.accounts.selectors import PersonRow
from commonroom.core.rows import maker
from commonroom.workspaces.selectors import Member


def _fields(made: object) -> tuple[object, ...]:
    return tuple(getattr(made, f.name) for f in dataclasses.fields(made))  # type: ignore[arg-type]


def test_made_as_its_init_makes_it() -> None:
    values = (7, "ann@example.org", "Ann Example", "guest", True)
    person, expected = maker(PersonRow)(*values), PersonRow(*values)
    assert type(person) is PersonRow
    assert _fields(person) == _fields(expected) == values
    assert person.display_name == expected.display_name and person.is_guest
    member = maker(Member)(person, "editor", date(2027, 1, 1))
    assert _fields(member) == _fields(Member(expected, "editor", date(2027, 1, 1)))
    assert member.user_id == 7


def test_what_it_makes_is_still_frozen() -> None:
    member = maker(Member)(maker(PersonRow)(1, "a@b.c", "A", "staff", True), "viewer", None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        member.role = "manager"  # type: ignore[misc]


def test_each_value_is_asked_for() -> None:
    with pytest.raises(TypeError):
        maker(Member)("only", "two")


@dataclasses.dataclass(frozen=True)
class _NoSlots:
    a: int


@dataclasses.dataclass(slots=True)
class _NotFrozen:
    a: int


@dataclasses.dataclass(frozen=True, slots=True)
class _Checked:
    a: int

    def __post_init__(self) -> None:
        if self.a < 0:
            raise ValueError("negative")


@dataclasses.dataclass(frozen=True, slots=True)
class _Derived:
    a: int
    b: int = dataclasses.field(init=False, default=0)


@dataclasses.dataclass(frozen=True, slots=True)
class _OwnInit:
    a: int

    def __init__(self, a: int) -> None:  # kept by dataclasses: it does more than set a
        object.__setattr__(self, "a", abs(a))


@dataclasses.dataclass(frozen=True, slots=True, init=False)
class _NoInit:
    a: int = 0


@dataclasses.dataclass(frozen=True, slots=True)
class _OurName:
    _rows_maker_made: str


@pytest.mark.parametrize(
    "cls", [_NoSlots, _NotFrozen, _Checked, _Derived, _OwnInit, _NoInit, _OurName, int]
)
def test_refused_for_a_class_whose_init_does_more(cls: type) -> None:
    with pytest.raises(TypeError):
        maker(cls)


@dataclasses.dataclass(frozen=True, slots=True)
class _Named:
    made: str
    new: str
    cls: str


def test_fields_named_as_a_function_might_name_its_own_locals_are_kept() -> None:
    """Fields called ``made``, ``new`` or ``cls`` are the values given, not the maker's own."""
    made = maker(_Named)("a", "b", "c")
    assert _fields(made) == _fields(_Named("a", "b", "c")) == ("a", "b", "c")
