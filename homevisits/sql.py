"""Help for the hottest paths only (a check-in, the sweep every second, the board's poll).

Statements the ORM does not write: an INSERT whose RETURNING also answers a question, and an
INSERT that goes only if an UPDATE of the same app's tables matched, sent as one statement on
PostgreSQL (a data-modifying WITH clause, which runs once and to completion), with a plain
fallback elsewhere. And `Prepared`: a query the ORM builds once per process, then sent again with
new values, where building it cost more than running it."""

from datetime import UTC, date, datetime

from django.db import connection
from django.db.models import Value
from django.db.models.sql import UpdateQuery


def quote(name: str) -> str:
    return connection.ops.quote_name(name)


def insert_parts(obj) -> tuple[str, str, list]:
    """For a new model instance: its table's name and column list, the placeholders, and the
    values (as a plain save would prepare them)."""
    fields = [f for f in obj._meta.concrete_fields if not f.primary_key]
    columns = f"{quote(obj._meta.db_table)} ({', '.join(quote(f.column) for f in fields)})"
    params = [f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields]
    return columns, ", ".join(["%s"] * len(fields)), params


def inserted(obj, pk) -> None:
    """Mark an instance inserted by one of these statements as saved, with its new key."""
    obj.pk = pk
    obj._state.adding, obj._state.db = False, connection.alias


def update_statement(queryset, values: dict) -> tuple[str, list]:
    """The SQL and parameters of `queryset.update(**values)`, to send within another."""
    query = queryset.query.chain(UpdateQuery)
    query.add_update_values(values)
    sql, params = query.get_compiler(queryset.db).as_sql()
    return sql, list(params)


def update_then_insert(queryset, values: dict, obj) -> bool:
    """Update the rows and, only if one matched, insert `obj`; True if it did. One statement
    on PostgreSQL (a compare-and-set and its record), two elsewhere."""
    if connection.vendor != "postgresql":
        if not queryset.update(**values):
            return False
        obj.save(force_insert=True)
        return True
    update_sql, update_params = update_statement(queryset, values)
    columns, placeholders, params = insert_parts(obj)
    sql = (
        f"WITH changed AS ({update_sql} RETURNING 1) "
        f"INSERT INTO {columns} SELECT {placeholders} FROM changed RETURNING {quote('id')}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*update_params, *params])
        row = cursor.fetchone()
    if row is None:
        return False
    inserted(obj, row[0])
    return True


def one_value(queryset, aggregate):
    """`queryset.aggregate(aggregate)` as a query to send within another, as a subquery."""
    return (
        queryset.order_by()
        .annotate(_all=Value(1))
        .values("_all")
        .annotate(value=aggregate)
        .values("value")
    )


class Prepared:
    """A query the ORM builds and compiles once per process and shape, then sent again with new
    values only: for a query on a hot path whose shape never changes (the sweep's probes, every
    second), where building and compiling it cost more than running it.

    `build(**values)` returns the queryset. Its datetime and date values are the ones that
    change from run to run: they are replaced once by stand-ins, found again among the compiled
    parameters, and filled in on each run. Any other value (a limit, a weekday) is part of the
    shape: each shape is compiled once. Rows come back as tuples, with the columns named in
    `types` (position → "datetime" or "time") converted as the ORM would."""

    def __init__(self, build, *, types: dict | None = None):
        self.build, self.types, self.compiled = build, types or {}, {}

    def __call__(self, **values) -> list[tuple]:
        changing = {k: v for k, v in values.items() if isinstance(v, date)}
        shape = (connection.vendor, *sorted((k, v) for k, v in values.items() if k not in changing))
        if shape not in self.compiled:
            self.compiled[shape] = self._compile(values, changing)
        sql, params, slots = self.compiled[shape]
        params = list(params)
        for index, name in slots:
            params[index] = _adapted(changing[name])
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        # PostgreSQL returns these types as they are; SQLite returns text, which its backend
        # converts for the ORM.
        converters = {
            index: getattr(connection.ops, f"convert_{kind}field_value", None)
            for index, kind in self.types.items()
        }
        converters = {index: convert for index, convert in converters.items() if convert}
        if not converters:
            return rows
        return [
            tuple(
                converters[i](v, None, connection) if i in converters else v
                for i, v in enumerate(row)
            )
            for row in rows
        ]

    def _compile(self, values: dict, changing: dict) -> tuple:
        stand_ins = {
            name: _stand_in(value, index)
            for index, (name, value) in enumerate(sorted(changing.items()))
        }
        sql, params = self.build(**{**values, **stand_ins}).query.sql_with_params()
        found = {_adapted(stand_in): name for name, stand_in in stand_ins.items()}
        slots = [(i, found[param]) for i, param in enumerate(params) if _hashable(param) in found]
        missing = set(stand_ins) - {name for _, name in slots}
        if missing:
            raise ValueError(f"Prepared query: {missing} not found among its parameters")
        slot_indexes = {i for i, _ in slots}
        if any(isinstance(p, date) for i, p in enumerate(params) if i not in slot_indexes):
            # Worked out inside build() from a stand-in, it would stay at its first value.
            raise ValueError("Prepared query: a date is derived inside build(); pass it in")
        return sql, tuple(params), slots


def _stand_in(value, index: int):
    """A value of the same type that no real query uses: a day in the year 1001 + index."""
    if isinstance(value, datetime):
        return datetime(1001 + index, 1, 1, tzinfo=UTC)
    return date(1001 + index, 1, 1)


def _adapted(value):
    if isinstance(value, datetime):
        return connection.ops.adapt_datetimefield_value(value)
    return connection.ops.adapt_datefield_value(value)


def _hashable(param):
    try:
        hash(param)
    except TypeError:
        return None
    return param
