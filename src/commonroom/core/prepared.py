"""Queries asked on every page, their SQL built by Django once per process and database.

A count in a page's header (unread notifications, unread messages) or under a listing ("of
10,000") costs the database a few microseconds and costs Django about half a millisecond to
build, compile and run through the ORM, on every request. :class:`Prepared` builds such a query
once, from the same ``QuerySet`` its app defines it with, and runs the SQL it compiled to with
each request's values put in the places of its parameters.

What must always hold:

- **The query is defined once, by the ORM.** ``build`` is the app's own definition (a selector's
  ``QuerySet``), given its inputs as keyword arguments; nothing is written as SQL by hand, so the
  prepared query and every other use of the definition cannot drift apart.
- **``build`` depends on its inputs only.** Anything else it reads when it runs (the clock: "a
  membership that has not ended *today*") is fixed at the first call for the life of the process;
  it must be an input instead (``today=DateField()``).
- **Every input is a parameter, never part of the SQL text.** The first call builds the query
  with a sentinel value for each input, finds each sentinel among the compiled parameters, and
  refuses (``ImproperlyConfigured``) a query in which one is missing or written into the SQL
  itself; it builds it a second time with other sentinels and refuses it if the SQL or any
  other parameter differs (the shape of the query moved with a value).

Nothing is kept but SQL and the positions of its parameters: there is nothing to invalidate,
and every run reads the database as it is (a write by any process is counted by the next run).
Decision 41 says why and what was left out.
"""

from __future__ import annotations

import datetime
import functools
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.core.exceptions import ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections, models, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import QuerySet, signals
from django.db.models.lookups import Exact
from django.db.transaction import TransactionManagementError

_M = TypeVar("_M", bound=models.Model)


# What a database driver gives that a converter's result can be kept for, by its raw value, and
# the results that can be shared between rows: values nothing can change in place.
_SHAREABLE = frozenset(
    {str, int, float, bytes, bool, datetime.datetime, datetime.date, datetime.time, uuid.UUID}
)
_UNSEEN = object()


@dataclass(frozen=True)
class _Compiled:
    sql: str
    params: tuple[Any, ...]
    slots: tuple[tuple[int, str], ...]  # (position among the params, input's name)
    # A window's: each column's name, and the converters Django applies to its values
    # (``SQLCompiler.get_converters``: by position, the functions and the column's expression).
    columns: tuple[str, ...] = ()
    converters: Mapping[int, tuple[list[Any], Any]] = field(default_factory=dict)
    # It locks its rows (``select_for_update`` on a database that has it): as Django refuses it
    # on every build, it is refused outside a transaction on every run, not only the first.
    locks: bool = False


def _sentinel(field: models.Field[Any, Any], n: int, round_: int) -> Any:
    """A value of ``field``'s kind that no real row or request would use (``n``: the input's
    position, ``round_``: 0 or 1, for the two builds)."""
    if isinstance(field, models.UUIDField):
        return uuid.uuid4()
    if isinstance(field, models.DateTimeField):
        return datetime.datetime(1111, 1 + round_, 1 + n, tzinfo=datetime.UTC)
    if isinstance(field, models.DateField):
        return datetime.date(1111, 1 + round_, 1 + n)
    if isinstance(field, models.SmallIntegerField):  # positive or not: a small column's range
        return 2**15 - 1 - 97 * (n + 1) - 1_009 * round_
    if isinstance(field, models.PositiveIntegerField | models.PositiveBigIntegerField):
        # Within the range of the column it is compared with: Django writes a comparison with
        # a value out of a field's range as a constant, not a parameter.
        return 2**31 - 1 - 7919 * (n + 1) - 104_729 * round_
    if isinstance(field, models.IntegerField):
        return -(2**31) + 7919 * (n + 1) + 104_729 * round_
    if isinstance(field, models.CharField):
        return f"prepared-sentinel-{n}-{round_}-{uuid.uuid4().hex}"
    raise ImproperlyConfigured(f"No sentinel for a {type(field).__name__} input.")


def _same(param: Any, sentinel: Any) -> bool:
    """Whether a compiled parameter is the sentinel as the database is given it (an integer
    may come as ``int`` from a lookup and as the driver's own integer type from its field)."""
    if isinstance(sentinel, int):
        return isinstance(param, int) and not isinstance(param, bool) and param == sentinel
    return type(param) is type(sentinel) and bool(param == sentinel)


class Prepared:
    """A query over ``build(**inputs)``'s rows, its SQL compiled once per process and database.
    ``inputs``: each input's name and the model field that says how its value is written to
    the database (``UUIDField()`` for a workspace's id, ``BigIntegerField()`` for a person's,
    ``DateField()`` for today, ``DateTimeField()`` for now)."""

    def __init__(
        self, name: str, build: Callable[..., QuerySet[Any, Any]], **inputs: models.Field[Any, Any]
    ) -> None:
        self.name = name
        self.build = build
        self.inputs = inputs
        self._compiled: dict[tuple[str, str, str], _Compiled] = {}
        self._lock = threading.Lock()

    # --- what a caller asks -------------------------------------------------------------------

    def count(self, *, using: str = DEFAULT_DB_ALIAS, **values: Any) -> int:
        """How many rows ``build(**values)`` has: what its ``.count()`` says."""
        connection = connections[using]
        compiled = self._compiled_for(connection, "count")
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, self._params(compiled, connection, values))
            row = cursor.fetchone()
        return int(row[0]) if row else 0

    def window(
        self, *, limit: int, offset: int, using: str = DEFAULT_DB_ALIAS, **values: Any
    ) -> list[dict[str, Any]]:
        """Rows ``offset`` to ``offset + limit`` of ``build(**values)`` (a ``values()`` or
        ``values_list()`` query in a fixed order), each as a dict of its columns by the names
        ``values()`` gives them, their values converted as the ORM converts them: what
        ``list(build(**values)[offset:offset + limit])`` reads."""
        connection = connections[using]
        compiled = self._compiled_for(connection, "window")
        params = [*self._params(compiled, connection, values), int(limit), int(offset)]
        return self._fetch(compiled, connection, params)

    def rows(self, *, using: str = DEFAULT_DB_ALIAS, **values: Any) -> list[dict[str, Any]]:
        """Every row of ``build(**values)``, as :meth:`window` gives them."""
        connection = connections[using]
        compiled = self._compiled_for(connection, "rows")
        return self._fetch(compiled, connection, self._params(compiled, connection, values))

    def tuples(self, *, using: str = DEFAULT_DB_ALIAS, **values: Any) -> list[tuple[Any, ...]]:
        """Every row of ``build(**values)`` as a tuple of its columns in their order (what
        ``list(build(**values))`` reads of a ``values_list()`` query), values converted as
        :meth:`rows` converts them: for many rows, without a dict made for each."""
        connection = connections[using]
        compiled = self._compiled_for(connection, "rows")
        params = self._params(compiled, connection, values)
        return self._converted(compiled, connection, params)

    @staticmethod
    def _converted(
        compiled: _Compiled, connection: BaseDatabaseWrapper, params: list[Any]
    ) -> list[tuple[Any, ...]]:
        if compiled.locks and connection.get_autocommit():
            raise TransactionManagementError(
                "select_for_update cannot be used outside of a transaction."
            )
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, params)
            fetched = cursor.fetchall()
        converters = compiled.converters.items()
        if not converters:
            return [tuple(found) for found in fetched]
        # A value read again in the same column (a version's author on fifty rows) is converted
        # once: converters are functions of the value alone, and only what cannot be changed
        # afterwards (a datetime, not a dict) is shared between rows.
        converted: dict[tuple[int, Any], Any] = {}
        rows = []
        for found in fetched:
            row = list(found)
            for position, (functions, expression) in converters:
                raw = row[position]
                shared = type(raw) in _SHAREABLE
                if shared:
                    value = converted.get((position, raw), _UNSEEN)
                    if value is not _UNSEEN:
                        row[position] = value
                        continue
                value = raw
                for convert in functions:
                    value = convert(value, expression, connection)
                if shared and (value is None or type(value) in _SHAREABLE):
                    converted[(position, raw)] = value
                row[position] = value
            rows.append(tuple(row))
        return rows

    @classmethod
    def _fetch(
        cls, compiled: _Compiled, connection: BaseDatabaseWrapper, params: list[Any]
    ) -> list[dict[str, Any]]:
        columns = compiled.columns
        return [
            dict(zip(columns, row, strict=True))
            for row in cls._converted(compiled, connection, params)
        ]

    # --- building it once ---------------------------------------------------------------------

    def _params(
        self, compiled: _Compiled, connection: BaseDatabaseWrapper, values: Mapping[str, Any]
    ) -> list[Any]:
        if set(values) != set(self.inputs):
            raise TypeError(f"{self.name} takes {sorted(self.inputs)}, was given {sorted(values)}")
        written = {
            name: field.get_db_prep_value(values[name], connection)
            for name, field in self.inputs.items()
        }
        params = list(compiled.params)
        for position, name in compiled.slots:
            params[position] = written[name]
        return params

    def _compiled_for(self, connection: BaseDatabaseWrapper, kind: str) -> _Compiled:
        key = (connection.alias, connection.vendor, kind)
        found = self._compiled.get(key)
        if found is None:
            with self._lock:
                found = self._compiled.get(key)
                if found is None:
                    found = self._compile(connection, kind)
                    self._compiled[key] = found
        return found

    def _sql(
        self, connection: BaseDatabaseWrapper, round_: int, kind: str
    ) -> tuple[_Compiled, dict[str, Any]]:
        sentinels = {
            name: _sentinel(field, n, round_) for n, (name, field) in enumerate(self.inputs.items())
        }
        built = self.build(**sentinels)
        if kind != "count":
            query = built.query
            if not built.ordered or query.is_sliced or not query.values_select:
                raise ImproperlyConfigured(
                    f"{self.name}: a window is of a values() query in a fixed order, not sliced."
                )
            compiler = query.get_compiler(connection=connection)
            inner, params = compiler.as_sql()
            columns = (*query.extra_select, *query.values_select, *query.annotation_select)
            converters = compiler.get_converters(
                [column[0] for column in compiler.select[: compiler.col_count]]
            )
            sql = f"{inner} LIMIT %s OFFSET %s" if kind == "window" else inner
        else:
            rows = built.order_by().values("pk")
            inner, params = rows.query.get_compiler(connection=connection).as_sql()
            # Django's own compiled SQL, its values all parameters (checked below and in
            # _compile).
            sql = f'SELECT COUNT(*) FROM ({inner}) "prepared"'  # noqa: S608
            columns, converters = (), {}
        written = {
            name: self.inputs[name].get_db_prep_value(value, connection)
            for name, value in sentinels.items()
        }
        for name, value in written.items():
            if str(value) in inner:
                raise ImproperlyConfigured(f"{self.name}: {name} is written into the SQL itself.")
        locks = bool(built.query.select_for_update and connection.features.has_select_for_update)
        compiled = _Compiled(sql, tuple(params), (), tuple(columns), converters, locks)
        return compiled, written

    def _compile(self, connection: BaseDatabaseWrapper, kind: str) -> _Compiled:
        first, written = self._sql(connection, 0, kind)
        sql, params = first.sql, first.params
        slots = tuple(
            (position, name)
            for position, param in enumerate(params)
            for name, value in written.items()
            if _same(param, value)
        )
        missing = set(self.inputs) - {name for _, name in slots}
        if missing:
            raise ImproperlyConfigured(f"{self.name}: {sorted(missing)} not among its parameters.")
        # Built again with other values, the same SQL and the same other parameters: the query's
        # shape does not move with its inputs.
        again, _ = self._sql(connection, 1, kind)
        placed = {position for position, _ in slots}
        fixed = [p for i, p in enumerate(params) if i not in placed]
        if again.sql != sql or fixed != [p for i, p in enumerate(again.params) if i not in placed]:
            raise ImproperlyConfigured(f"{self.name}: its SQL changes with its inputs.")
        return _Compiled(sql, params, slots, first.columns, first.converters, first.locks)


# The most rows insert_new writes in one statement (a notification's 13 columns: 832
# parameters, under SQLite's oldest limit of 999).
BATCH_ROWS = 64

_NEW_ROWS: dict[tuple[type[models.Model], str, str, int], tuple[str, tuple[Any, ...], bool]] = {}


def insert_new(objs: Sequence[models.Model], *, using: str = DEFAULT_DB_ALIAS) -> list[Any]:
    """Write those of the new objects ``objs`` (of one model) that break no unique constraint
    and skip the others, as ``bulk_create(objs, ignore_conflicts=True)`` does (no signal
    either), in one statement built once per model and number of rows (``INSERT ... ON
    CONFLICT DO NOTHING RETURNING`` the key). Returns the keys of the rows it wrote (the
    database's own, for a key it makes), which the ORM cannot tell without reading again;
    the objects it wrote are marked as rows of the database."""
    if not objs:
        return []
    model = type(objs[0])
    connection = connections[using]
    # In statements of at most BATCH_ROWS rows, as bulk_create batches (SQLite's limit on a
    # statement's parameters): one statement for the few rows of every day, and one SQL text
    # kept per number of rows up to BATCH_ROWS, never one per size a large notice reaches.
    if len(objs) > BATCH_ROWS:
        return [
            written
            for start in range(0, len(objs), BATCH_ROWS)
            for written in insert_new(objs[start : start + BATCH_ROWS], using=using)
        ]
    key = (model, connection.alias, connection.vendor, len(objs))
    pk = _concrete(model, "pk")
    found = _NEW_ROWS.get(key)
    if found is None:
        if model._meta.parents:
            raise ImproperlyConfigured(f"{model.__name__}: a model with a parent.")
        auto = isinstance(pk, models.AutoField)
        quote = connection.ops.quote_name
        fields = tuple(
            f
            for f in model._meta.concrete_fields
            if not (auto and f is pk) and not f.generated  # a generated column is not written
        )
        row = f"({', '.join(['%s'] * len(fields))})"
        sql = (
            f"INSERT INTO {quote(model._meta.db_table)} "  # noqa: S608 - our table, our columns
            f"({', '.join(quote(f.column) for f in fields)}) "
            f"VALUES {', '.join([row] * len(objs))} "
            f"ON CONFLICT DO NOTHING RETURNING {quote(pk.column)}"
        )
        found = _NEW_ROWS[key] = (sql, fields, auto)
    sql, fields, auto = found
    values = []
    for obj in objs:
        if type(obj) is not model:
            raise TypeError(f"insert_new writes objects of one model, not {type(obj).__name__}.")
        given = [f.pre_save(obj, add=True) for f in fields]
        if Written in map(type, given):
            raise TypeError("insert_new writes values; a value that is SQL goes through insert.")
        values += [f.get_db_prep_save(v, connection) for f, v in zip(fields, given, strict=True)]
    # As save() and bulk_create do: a failed statement marks the transaction for
    # rollback, even in an atomic block without a savepoint.
    with transaction.mark_for_rollback_on_error(using), connection.cursor() as cursor:
        cursor.execute(sql, values)
        # As the objects hold their keys (SQLite answers a UUID as its text).
        written = [pk.to_python(row[0]) for row in cursor.fetchall()]
    if not auto:
        made = set(written)
        for obj in objs:
            if obj.pk in made:
                obj._state.adding = False
                obj._state.db = using
    return written


_UPDATES: dict[
    tuple[type[models.Model], str, str, tuple[str, ...]],
    tuple[str, tuple[models.Field[Any, Any], ...]],
] = {}


def _concrete(model: type[models.Model], name: str) -> models.Field[Any, Any]:
    """``model``'s concrete field ``name`` (``"pk"``: its primary key)."""
    found = model._meta.pk if name == "pk" else model._meta.get_field(name)
    if not isinstance(found, models.Field) or not found.concrete:
        raise ImproperlyConfigured(f"{model.__name__} has no column {name!r}.")
    return found


def update(obj: models.Model, fields: Sequence[str], *, using: str = DEFAULT_DB_ALIAS) -> None:
    """Write ``fields`` of the existing row ``obj`` as ``obj.save(update_fields=fields)``
    writes them (each value as ``pre_save`` and ``get_db_prep_save`` give it), with the
    statement built once per model and fields; a row that is not there is refused as ``save``
    refuses it (``DatabaseError``). A model anything listens to saves of, one with a parent
    model or its own ``save``, or a value that is an SQL expression is saved by the ORM."""
    model = type(obj)
    connection = connections[using]
    key = (model, connection.alias, connection.vendor, tuple(fields))
    found = _UPDATES.get(key)
    if found is None:
        quote = connection.ops.quote_name
        chosen = tuple(_concrete(model, name) for name in fields)
        sql = (
            f"UPDATE {quote(model._meta.db_table)} "  # noqa: S608 - our table, our columns
            f"SET {', '.join(f'{quote(f.column)} = %s' for f in chosen)} "
            f"WHERE {quote(_concrete(model, 'pk').column)} = %s"
        )
        found = _UPDATES[key] = (sql, chosen)
    sql, chosen = found
    given = [] if model._meta.parents else [f.pre_save(obj, add=False) for f in chosen]
    if (
        _expressions_of(obj, chosen)
        or model._meta.parents
        or model.save is not models.Model.save
        or signals.pre_save.has_listeners(model)
        or signals.post_save.has_listeners(model)
        or any(hasattr(value, "resolve_expression") for value in given)
    ):
        obj.save(update_fields=list(fields), using=using)
        return
    values = [f.get_db_prep_save(v, connection) for f, v in zip(chosen, given, strict=True)]
    values.append(_concrete(model, "pk").get_db_prep_value(obj.pk, connection))
    # As save() and bulk_create do: a failed statement marks the transaction for
    # rollback, even in an atomic block without a savepoint.
    with transaction.mark_for_rollback_on_error(using), connection.cursor() as cursor:
        cursor.execute(sql, values)
        if cursor.rowcount == 0:
            raise DatabaseError("Save with update_fields did not affect any rows.")


_UPDATES_WHERE: dict[
    tuple[
        type[models.Model],
        str,
        str,
        tuple[str, ...],
        tuple[str, ...],
        tuple[str | None, ...] | None,
    ],
    tuple[str, tuple[models.Field[Any, Any], ...], tuple[models.Field[Any, Any], ...]],
] = {}


def update_where(
    model: type[models.Model],
    where: Mapping[str, Any],
    values: Mapping[str, Any],
    *,
    using: str = DEFAULT_DB_ALIAS,
) -> int:
    """``model.objects.filter(**where).update(**values)``, each name a concrete field (or its
    column's attribute name) compared for equality, with the statement built once per model,
    columns and conditions: each value written as ``QuerySet.update`` writes it
    (``get_db_prep_save``), each condition's as ``exact`` compares it. Returns the number of
    rows it changed, as ``update`` does. Anything the ORM would write otherwise is left to
    it: a model with a parent model or a default manager that filters, no values, a condition
    on ``None`` (``IS NULL``, not ``=``), a lookup, a model object or an expression, a
    condition's field whose ``exact`` is not plain (JSON's, a relation's, an integer's), a
    value that is an SQL expression or a model object, a generated field or a field with its
    own placeholder. A value that is :class:`Written` is its SQL in the statement (built once
    per SQL text), or its expression where the ORM writes."""
    connection = connections[using]
    if (
        not where
        or not values
        or model._meta.parents
        or model._default_manager.get_queryset().query.where  # a manager that filters
        or any("__" in name for name in where)  # a lookup, not equality
        or any(
            v is None or hasattr(v, "resolve_expression") or hasattr(v, "prepare_database_save")
            for v in where.values()
        )
        or any(
            hasattr(v, "resolve_expression") or hasattr(v, "prepare_database_save")
            for v in values.values()
        )
    ):
        return int(model._default_manager.using(using).filter(**where).update(**_orms(values)))
    shape = _shape(list(values.values()), using)
    if shape == _ELSEWHERE:
        return int(model._default_manager.using(using).filter(**where).update(**_orms(values)))
    key = (model, connection.alias, connection.vendor, tuple(values), tuple(where), shape)
    found = _UPDATES_WHERE.get(key)
    if found is None:
        quote = connection.ops.quote_name
        set_ = tuple(_concrete(model, name) for name in values)
        cond = tuple(_concrete(model, name) for name in where)
        sql = (
            f"UPDATE {quote(model._meta.db_table)} "  # noqa: S608 - our table, our columns
            "SET "
            + ", ".join(
                f"{quote(f.column)} = {w or '%s'}"
                for f, w in zip(set_, shape or [None] * len(set_), strict=True)
            )
            + f" WHERE {' AND '.join(f'{quote(f.column)} = %s' for f in cond)}"
        )
        found = _UPDATES_WHERE[key] = (sql, set_, cond)
    sql, set_, cond = found
    if (
        any(hasattr(f, "get_placeholder") or f.generated for f in set_)
        # Equality as plain ``exact`` writes it: not JSON's, a relation's or an integer's
        # (which answers no rows for a value out of the column's range).
        or any(f.get_lookup("exact") is not Exact for f in cond)
    ):
        return int(model._default_manager.using(using).filter(**where).update(**_orms(values)))
    if shape is None:
        params = [
            f.get_db_prep_save(v, connection) for f, v in zip(set_, values.values(), strict=True)
        ]
    else:
        params = []
        for f, v in zip(set_, values.values(), strict=True):
            if type(v) is Written:
                params += v.params
            else:
                params.append(f.get_db_prep_save(v, connection))
    params += [
        f.get_db_prep_value(v, connection, prepared=False)
        for f, v in zip(cond, where.values(), strict=True)
    ]
    with transaction.mark_for_rollback_on_error(using), connection.cursor() as cursor:
        cursor.execute(sql, params)
        return int(cursor.rowcount)


class IExactText(models.CharField):
    """The input of a name compared with ``__iexact``: its value written as the lookup writes
    it (``prep_for_iexact_query``: on SQLite, a LIKE pattern with ``%``, ``_`` and ``\\``
    escaped; on PostgreSQL the text itself), so that a name holding them matches only
    itself, as through the ORM."""

    def get_db_prep_value(
        self, value: Any, connection: BaseDatabaseWrapper, prepared: bool = False
    ) -> Any:
        return connection.ops.prep_for_iexact_query(
            super().get_db_prep_value(value, connection, prepared)
        )


# --- model objects from a prepared query's rows -------------------------------------------------


def columns_of(model: type[models.Model], prefix: str = "") -> list[str]:
    """Every concrete field of ``model`` as ``values()`` names it, after ``prefix`` (a relation
    followed: ``"author__"``): the columns :func:`instance_from` makes an object from. Listed
    from ``_meta``, so a field added later is read too."""
    return [f"{prefix}{field.attname}" for field in model._meta.concrete_fields]


@functools.cache
def _made_from(
    model: type[models.Model], prefix: str
) -> tuple[list[str], tuple[str, ...], tuple[str, ...]]:
    """``model``'s concrete fields' attribute names (as ``from_db`` takes them), the row's
    columns holding them, and those of its primary key."""
    fields = [field.attname for field in model._meta.concrete_fields]
    keys = tuple(
        f"{prefix}{field.attname}" for field in model._meta.concrete_fields if field.primary_key
    )
    return fields, tuple(f"{prefix}{name}" for name in fields), keys


def instance_from(model: type[_M], row: Mapping[str, Any], prefix: str = "") -> _M | None:
    """The ``model`` object a row's :func:`columns_of` columns hold, made by ``from_db`` as the
    ORM makes it (``select_related`` too), or None when its primary key is NULL (a relation
    followed through an outer join to no row)."""
    fields, columns, keys = _made_from(model, prefix)
    if any(row[key] is None for key in keys):
        return None
    return model.from_db(DEFAULT_DB_ALIAS, fields, [row[column] for column in columns])


def instances_from(row: Sequence[Any], *kinds: type[models.Model]) -> list[models.Model | None]:
    """The objects a :meth:`Prepared.tuples` row holds, one of each of ``kinds`` in turn, the
    row being each one's :func:`columns_of` columns one after another (made as
    :func:`instance_from` makes them: None for a NULL primary key)."""
    made: list[models.Model | None] = []
    start = 0
    for model in kinds:
        fields, _, _ = _made_from(model, "")
        values = row[start : start + len(fields)]
        start += len(fields)
        pk = model._meta.pk
        if pk is not None and values[fields.index(pk.attname)] is None:
            made.append(None)
        else:
            made.append(model.from_db(DEFAULT_DB_ALIAS, fields, list(values)))
    if start != len(row):
        raise ValueError(f"{len(row)} columns, not the {start} of {[k.__name__ for k in kinds]}")
    return made


# --- a value written by SQL the ORM compiled once ------------------------------------------------


@dataclass(frozen=True)
class Written:
    """A column's value that is SQL, not a parameter: ``sql`` with a ``%s`` for each of
    ``params``, as the ORM compiled ``expression()`` (:class:`PreparedExpression` makes one).
    :func:`insert` and :func:`update_where` write it in the column's place with their
    statement still built once (per SQL text); wherever they leave the row to the ORM, the ORM
    is given ``expression()`` instead, so it writes the same."""

    sql: str
    params: tuple[Any, ...]
    expression: Callable[[], Any]
    using: str  # the database it was compiled for: another's statement gets the expression


class PreparedExpression:
    """An SQL expression written into rows (PostgreSQL's search vector of a title and a body),
    compiled by the ORM once per process and database from ``build(**inputs)``, each input a
    text (``Value(text)`` in it) that becomes a parameter. As for :class:`Prepared`, it is
    compiled twice with other values and refused (``ImproperlyConfigured``) if an input is
    missing among the parameters or written into the SQL, or if the SQL or another parameter
    moves with them."""

    def __init__(
        self, name: str, model: type[models.Model], build: Callable[..., Any], *inputs: str
    ) -> None:
        self.name = name
        self.model = model
        self.build = build
        self.inputs = inputs
        self._compiled: dict[tuple[str, str], tuple[str, tuple[Any, ...], dict[int, str]]] = {}

    def __call__(self, *, using: str = DEFAULT_DB_ALIAS, **values: str) -> Written:
        """The expression of ``values``, for :func:`insert` or :func:`update_where`."""
        connection = connections[using]
        key = (connection.alias, connection.vendor)
        found = self._compiled.get(key)
        if found is None:
            found = self._compiled[key] = self._compile(connection)
        sql, params, slots = found
        if values.keys() != set(self.inputs):
            raise TypeError(f"{self.name}: its inputs are {list(self.inputs)}.")
        given = list(params)
        for position, name in slots.items():
            given[position] = values[name]
        return Written(sql, tuple(given), functools.partial(self.build, **values), using)

    def _sql(
        self, connection: BaseDatabaseWrapper, round_: int
    ) -> tuple[str, list[Any], dict[str, str]]:
        from django.db.models.sql import Query

        # Spaces at both ends, both cases, longer than any column's cap: an input stripped,
        # cut, case-folded or replaced in ``build`` moves its sentinel, which is then not found
        # among the parameters, and the expression is refused.
        sentinels = {}
        for name in self.inputs:
            mark = uuid.uuid4().hex
            sentinels[name] = f" Prepared-{self.name}-{name}-{round_}-{(mark + mark.upper()) * 5} "
        query = Query(self.model)
        expression = self.build(**sentinels).resolve_expression(query, allow_joins=False)
        sql, params = query.get_compiler(connection=connection).compile(expression)
        for name, value in sentinels.items():
            if value in sql:
                raise ImproperlyConfigured(f"{self.name}: {name} is written into the SQL itself.")
        return sql, list(params), sentinels

    def _compile(
        self, connection: BaseDatabaseWrapper
    ) -> tuple[str, tuple[Any, ...], dict[int, str]]:
        sql, params, sentinels = self._sql(connection, 0)
        by_value = {value: name for name, value in sentinels.items()}
        slots = {
            i: by_value[p] for i, p in enumerate(params) if isinstance(p, str) and p in by_value
        }
        if set(slots.values()) != set(self.inputs):
            missing = sorted(set(self.inputs) - set(slots.values()))
            raise ImproperlyConfigured(f"{self.name}: {missing} not among its parameters.")
        again, again_params, again_sentinels = self._sql(connection, 1)
        if (
            again != sql
            or len(again_params) != len(params)
            or any(again_params[i] != again_sentinels[name] for i, name in slots.items())
            or any(p != again_params[i] for i, p in enumerate(params) if i not in slots)
        ):
            raise ImproperlyConfigured(f"{self.name}: its SQL changes with its inputs.")
        return sql, tuple(params), slots


# What :func:`_shape` answers when a :class:`Written` was compiled for another database.
_ELSEWHERE: tuple[str | None, ...] = ()


def _shape(values: Sequence[Any], using: str) -> tuple[str | None, ...] | None:
    """The SQL texts of the :class:`Written` among ``values`` by position; ``None`` if none;
    :data:`_ELSEWHERE` if one of them is another database's (the ORM writes its expression)."""
    if Written not in map(type, values):  # no Python call per value: asked on every insert
        return None
    if any(type(v) is Written and v.using != using for v in values):
        return _ELSEWHERE
    return tuple(v.sql if type(v) is Written else None for v in values)


def _expressions_of(
    obj: models.Model, fields: Sequence[models.Field[Any, Any]] | None = None
) -> bool:
    """Each :class:`Written` among ``obj``'s values (of ``fields``, else of every concrete
    field) replaced by its expression, for the ORM to write; whether there was any."""
    found = False
    for f in obj._meta.concrete_fields if fields is None else fields:
        value = obj.__dict__.get(f.attname)
        if type(value) is Written:
            setattr(obj, f.attname, value.expression())
            found = True
    return found


def _orms(values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` as the ORM is given them: each :class:`Written` its expression."""
    return {k: v.expression() if type(v) is Written else v for k, v in values.items()}


# --- a model object inserted with SQL built once ------------------------------------------------

_INSERTS: dict[
    tuple[type[models.Model], str, str, tuple[str | None, ...] | None],
    tuple[str, tuple[Any, ...], bool],
] = {}


def _insert_sql(
    model: type[models.Model],
    connection: BaseDatabaseWrapper,
    shape: tuple[str | None, ...] | None = None,
) -> tuple[str, tuple[Any, ...], bool]:
    """``model``'s INSERT, its fields in the order of its columns, and whether the database
    makes its primary key (read back): built once per model and database from ``_meta``
    (every concrete field but an automatic primary key, as ``Model.save`` writes them), and
    per ``shape``: the SQL of each value that is :class:`Written`, by position."""
    key = (model, connection.alias, connection.vendor, shape)
    found = _INSERTS.get(key)
    if found is None:
        quote = connection.ops.quote_name
        pk = model._meta.pk
        auto = isinstance(pk, models.AutoField)
        fields = tuple(
            f
            for f in model._meta.concrete_fields
            if not (auto and f is pk) and not f.generated  # a generated column is not written
        )
        sql = (
            f"INSERT INTO {quote(model._meta.db_table)} "  # noqa: S608 - our table, our columns
            f"({', '.join(quote(f.column) for f in fields)}) "
            f"VALUES ({', '.join(w or '%s' for w in shape or [None] * len(fields))})"
        )
        if auto and pk is not None and connection.features.can_return_columns_from_insert:
            sql += f" RETURNING {quote(pk.column)}"
        found = _INSERTS[key] = (sql, fields, auto)
    return found


def insert(obj: _M, *, using: str = DEFAULT_DB_ALIAS) -> _M:
    """Write the new object ``obj`` as ``obj.save(force_insert=True)`` writes it (each field's
    value as ``pre_save`` and ``get_db_prep_save`` give it, an automatic key read back), with
    the statement built once per model instead of by the ORM's insert compiler each time: for
    rows written on every upload, where the ORM's own work is most of the insert's cost. A
    model anything listens to saves of (``pre_save``, ``post_save``), one with a parent model
    or its own ``save``, an object given its automatic key or a value that is an SQL
    expression is saved by the ORM, so that nothing is skipped. A value that is
    :class:`Written` is its SQL in the statement (built once per SQL text), or its
    expression where the ORM saves.
    Returns ``obj``, now a row of the database."""
    model = type(obj)
    connection = connections[using]
    sql, fields, auto = _insert_sql(model, connection)
    given = [] if model._meta.parents else [f.pre_save(obj, add=True) for f in fields]
    shape = _shape(given, using)
    if (
        model._meta.parents
        or model.save is not models.Model.save
        or (auto and obj.pk is not None)
        or signals.pre_save.has_listeners(model)
        or signals.post_save.has_listeners(model)
        or any(hasattr(value, "resolve_expression") for value in given)
        or shape == _ELSEWHERE
    ):
        _expressions_of(obj)
        obj.save(force_insert=True, using=using)
        return obj
    if shape is None:
        values = [
            f.get_db_prep_save(value, connection) for f, value in zip(fields, given, strict=True)
        ]
    else:
        sql, _, _ = _insert_sql(model, connection, shape)
        values = []
        for f, value in zip(fields, given, strict=True):
            if type(value) is Written:
                values += value.params
            else:
                values.append(f.get_db_prep_save(value, connection))
    # As save() and bulk_create do: a failed statement marks the transaction for
    # rollback, even in an atomic block without a savepoint.
    with transaction.mark_for_rollback_on_error(using), connection.cursor() as cursor:
        cursor.execute(sql, values)
        if auto:
            if connection.features.can_return_columns_from_insert:
                obj.pk = cursor.fetchone()[0]
            else:
                column = model._meta.pk.column if model._meta.pk is not None else "id"
                obj.pk = connection.ops.last_insert_id(cursor, model._meta.db_table, column)
    obj._state.adding = False
    obj._state.db = using
    return obj
