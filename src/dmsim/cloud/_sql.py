"""Read-only SQL over tabular readings.

A user statement may only *read*, and only through the ``readings`` view (plus SQLite's JSON
table functions and common table expressions). This is enforced by SQLite itself: an
authorizer callback denies every other action (writes, DDL, PRAGMA, ATTACH, transactions,
direct reads of the underlying tables) while the statement is prepared and run, and
``PRAGMA query_only`` is on as a second wall. The statement is prepared first against an empty
copy of the schema where ``readings`` is a plain table, so that a CTE named ``readings`` cannot
pass for the view. A progress handler stops runaway statements (a recursive CTE without end)
after a fixed amount of work, and results are capped in rows.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from dmsim.errors import CloudError

__all__ = ["SqlResult", "run_readonly_sql"]

#: Tables a statement may read: the view, and JSON table-valued functions.
_READABLE = frozenset({"readings", "json_each", "json_tree"})
#: Granularity of the progress handler (virtual-machine instructions per call).
_PROGRESS_STEP = 10_000
_SQLITE_MIN_INT, _SQLITE_MAX_INT = -(2**63), 2**63 - 1


@dataclass(frozen=True, slots=True)
class SqlResult:
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    truncated: bool


_Authorizer = Callable[[int, str | None, str | None, str | None, str | None], int]


def _stored_names(conn: sqlite3.Connection) -> frozenset[str]:
    """Lower-cased names of the database's tables and views and of its virtual-table modules
    (``dbstat``, …): everything a FROM clause can name besides a common table expression."""
    rows = conn.execute(
        "SELECT name FROM sqlite_master UNION SELECT name FROM sqlite_temp_master"
        " UNION SELECT name FROM pragma_module_list"
    )
    return frozenset(str(name).lower() for (name,) in rows)


def _authorizer(stored: frozenset[str], *, view_reads_items: bool) -> _Authorizer:
    """The wall around a user statement. ``view_reads_items``: reads of ``items`` attributed
    to ``readings`` are the view's (off where ``readings`` is a plain table)."""

    def authorize(
        action: int, arg1: str | None, arg2: str | None, _database: str | None, source: str | None
    ) -> int:
        if action in (sqlite3.SQLITE_SELECT, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_RECURSIVE):
            return sqlite3.SQLITE_OK
        # Connecting a JSON table function makes SQLite itself authorize "updates" of
        # sqlite_master and a read of its ROWID; a user statement cannot do either, since
        # query_only is on and the schema is not writable.
        if arg1 == "sqlite_master" and (
            action == sqlite3.SQLITE_UPDATE or (action == sqlite3.SQLITE_READ and arg2 == "ROWID")
        ):
            return sqlite3.SQLITE_OK
        if action != sqlite3.SQLITE_READ or arg1 is None:
            return sqlite3.SQLITE_DENY
        if arg1 in _READABLE:
            return sqlite3.SQLITE_OK
        # Columns of ``items`` reached through the view are fine; direct reads are not.
        if view_reads_items and arg1 == "items" and source == "readings":
            return sqlite3.SQLITE_OK
        # A FROM item used without reading any column (count(*) over it) is authorized with an
        # empty column name. Allowed only for a common table expression: a name that is no
        # table, view or module of the database (``sqlite_*`` and ``pragma_*`` names are).
        name = arg1.lower()
        if arg2 == "" and name not in stored and not name.startswith(("sqlite_", "pragma_")):
            return sqlite3.SQLITE_OK
        return sqlite3.SQLITE_DENY

    return authorize


def _check_in_schema_copy(
    conn: sqlite3.Connection, statement: str, params: Sequence[Any], stored: frozenset[str]
) -> None:
    """Prepare the statement against an empty copy of the schema in which ``readings`` is a
    plain table, and refuse what fails there.

    SQLite attributes reads inside a common table expression to the CTE's name, as it
    attributes reads inside a view to the view's, so ``WITH readings AS (SELECT raw FROM
    items) …`` would pass for the view at work. In the copy nothing may read ``items``.
    """
    scratch = sqlite3.connect(":memory:")
    try:
        columns = ", ".join(_quoted(row[1]) for row in conn.execute("PRAGMA table_info(readings)"))
        scratch.execute(f"CREATE TABLE readings ({columns})")
        schema = conn.execute(
            "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name != 'readings'"
            " ORDER BY rowid"
        )
        for (create,) in schema:
            scratch.execute(create)
        scratch.execute("PRAGMA query_only = ON")
        authorize = _authorizer(stored, view_reads_items=False)
        denied = False
        started = False

        def recording(*args: Any) -> int:
            nonlocal denied
            verdict = authorize(*args)
            denied = denied or verdict != sqlite3.SQLITE_OK
            return verdict

        def stop() -> int:  # authorization is over once the statement runs
            nonlocal started
            started = True
            return 1

        scratch.set_authorizer(recording)
        scratch.set_progress_handler(stop, 1)
        try:
            scratch.execute(statement, tuple(params))
        except sqlite3.Error as error:
            if denied:
                raise _refused(error) from None
            if not started:  # bad SQL: the same error as on the real database
                raise CloudError("INVALID_ARGUMENT", f"sql: {error}") from None
    finally:
        scratch.close()


def _quoted(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _refused(error: sqlite3.Error) -> CloudError:
    return CloudError(
        "INVALID_ARGUMENT", f"sql: {error} (only SELECT over the `readings` view is allowed)"
    )


def run_readonly_sql(
    conn: sqlite3.Connection,
    statement: str,
    params: Sequence[Any] = (),
    *,
    max_rows: int = 10_000,
    max_steps: int = 50_000_000,
) -> SqlResult:
    """Run one read-only statement; bad SQL or a forbidden action → INVALID_ARGUMENT."""
    for index, value in enumerate(params):
        if isinstance(value, int) and not _SQLITE_MIN_INT <= value <= _SQLITE_MAX_INT:
            raise CloudError(
                "INVALID_ARGUMENT",
                f"sql params[{index}]: {value} does not fit SQLite's 64-bit integers",
            )
    budget = [max_steps // _PROGRESS_STEP]

    def progress() -> int:
        budget[0] -= 1
        return 1 if budget[0] < 0 else 0  # non-zero aborts the statement

    stored = _stored_names(conn)
    _check_in_schema_copy(conn, statement, params, stored)
    authorize = _authorizer(stored, view_reads_items=True)
    conn.execute("PRAGMA query_only = ON")
    conn.set_authorizer(authorize)
    conn.set_progress_handler(progress, _PROGRESS_STEP)
    try:
        cursor = conn.execute(statement, tuple(params))
        rows = cursor.fetchmany(max_rows + 1)
        columns = tuple(d[0] for d in cursor.description or ())
        cursor.close()
    except sqlite3.ProgrammingError as error:  # e.g. several statements, wrong param count
        raise CloudError("INVALID_ARGUMENT", f"sql: {error}") from None
    except sqlite3.DatabaseError as error:
        if budget[0] < 0:
            raise CloudError(
                "INVALID_ARGUMENT", f"sql: statement stopped after {max_steps} steps"
            ) from None
        if "not authorized" in str(error):
            raise _refused(error) from None
        raise CloudError("INVALID_ARGUMENT", f"sql: {error}") from None
    finally:
        conn.set_progress_handler(None, 0)
        conn.set_authorizer(None)
        conn.execute("PRAGMA query_only = OFF")
    truncated = len(rows) > max_rows
    return SqlResult(columns, tuple(tuple(r) for r in rows[:max_rows]), truncated)
