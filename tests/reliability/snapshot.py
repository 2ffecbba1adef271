"""Snapshots of a whole hub database, to show that bad input changed nothing.

``snapshot`` reads every row of every table in the public schema (the hub's tables, the migration
ledger and pgqueuer's queue, log and statistics tables) as JSON, keyed by primary key. ``changes``
lists what differs between two snapshots as readable lines ("orders[3].recipient changed",
"labels: +1 row"). Columns that every authenticated request stamps (``api_tokens.last_used_at``)
are left out: they say nothing about the data. So are the tables of core's coordination service
from snapshots (rate-limit buckets and short-lived access tokens shared by the hub's processes):
any call to a shop spends a token there, whether or not the request it served is refused. ``dump``
keeps them: an access token stored there must not be readable either.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import asyncpg

#: (table, column) pairs that change on every request by design.
VOLATILE = {("api_tokens", "last_used_at")}
#: Tables that follow the calls made to shops, not the hub's data (core.infra.coordination).
COORDINATION = {"shared_buckets", "shared_secrets"}

Snapshot = dict[str, dict[str, dict[str, Any]]]

Db = asyncpg.Connection | asyncpg.Pool


async def tables(db: Db) -> list[tuple[str, list[str]]]:
    """Every ordinary table of the public schema with its primary-key columns."""
    rows = await db.fetch(
        """
        select c.relname as name, array(
            select a.attname from pg_index i
            join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey)
            where i.indrelid = c.oid and i.indisprimary order by a.attnum
        ) as key
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = 'public' and c.relkind in ('r', 'p') order by c.relname
        """
    )
    return [(row["name"], list(row["key"])) for row in rows]


async def snapshot(db: Db) -> Snapshot:
    """Every row of every table, as {table: {key: {column: value}}}."""
    found = [(name, key) for name, key in await tables(db) if name not in COORDINATION]
    result: Snapshot = {name: {} for name, _ in found}
    keys = dict(found)
    query = " union all ".join(f"""select '{name}' as name, to_jsonb(t)::text as row from public."{name}" t""" for name, _ in found)
    seen: Counter[str] = Counter()
    for record in await db.fetch(query):
        name, row = record["name"], json.loads(record["row"])
        for column in [c for t, c in VOLATILE if t == name]:
            row.pop(column, None)
        if keys[name]:
            key = ",".join(str(row.get(column)) for column in keys[name])
        else:  # no primary key: a row is known by its content (a multiset)
            text = json.dumps(row, sort_keys=True)
            seen[f"{name}:{text}"] += 1
            key = f"{text}#{seen[f'{name}:{text}']}"
        result[name][key] = row
    return result


def changes(before: Snapshot, after: Snapshot) -> list[str]:
    """What differs, one line per added or removed row and per changed column."""
    found = []
    for table in sorted(before.keys() | after.keys()):
        old, new = before.get(table, {}), after.get(table, {})
        added, removed = new.keys() - old.keys(), old.keys() - new.keys()
        if added:
            found.append(f"{table}: +{len(added)} row(s)")
        if removed:
            found.append(f"{table}: -{len(removed)} row(s)")
        for key in sorted(old.keys() & new.keys()):
            for column in sorted(old[key].keys() | new[key].keys()):
                if old[key].get(column) != new[key].get(column):
                    found.append(f"{table}[{key}].{column} changed")
    return found


async def dump(db: Db) -> str:
    """The whole database as text, a row a line: what a data-only dump would reveal.

    Rows are read as ``t::text``; bytea columns (where a careless change could store clear text
    that ``::text`` shows only as hex) are added decoded as UTF-8.
    """
    parts = []
    for table, _ in await tables(db):
        parts.append(f"-- {table}")
        parts.extend(row[0] for row in await db.fetch(f'select t::text from public."{table}" t'))
        binary = await db.fetch(
            "select column_name from information_schema.columns"
            " where table_schema = 'public' and table_name = $1 and data_type = 'bytea'",
            table,
        )
        for column in (row["column_name"] for row in binary):
            values = await db.fetch(f'select "{column}" from public."{table}" where "{column}" is not null')
            parts.extend(bytes(row[0]).decode("utf-8", "replace") for row in values)
    return "\n".join(parts)
