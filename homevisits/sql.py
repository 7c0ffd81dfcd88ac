"""A few statements the ORM does not write, for the hottest paths only (a check-in): an
INSERT whose RETURNING also answers a question, and an INSERT that goes only if an UPDATE of the
same app's tables matched, sent as one statement on PostgreSQL (a data-modifying WITH clause,
which runs once and to completion). Each has a plain fallback on other databases."""

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


def scalars(**querysets) -> dict:
    """Several queries of one value each, asked in one statement: SELECT (q1), (q2), …"""
    parts, params = [], []
    for name, queryset in querysets.items():
        sql, query_params = queryset.query.sql_with_params()
        parts.append(f"({sql}) AS {quote(name)}")
        params += query_params
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(parts)}", params)
        return dict(zip(querysets, cursor.fetchone(), strict=True))


def one_value(queryset, aggregate):
    """`queryset.aggregate(aggregate)` as a query to send within another (see scalars)."""
    return (
        queryset.order_by()
        .annotate(_all=Value(1))
        .values("_all")
        .annotate(value=aggregate)
        .values("value")
    )
