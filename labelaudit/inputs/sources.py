"""DuckDB sources: ``duckdb:///rel.duckdb?query=SELECT ...`` read safely.

One URL rule everywhere, SQLAlchemy's: after ``duckdb://`` comes an empty host, then the path, so
``duckdb:///warehouse.duckdb`` (three slashes) is relative (to the working directory on the command line, to the
config file's folder in ``labelaudit.toml``) and ``duckdb:////data/warehouse.duckdb`` (four) is absolute.

After ``?`` come ``query=`` or ``table=``, separated by ``&``. Values are percent-decoded with
:func:`urllib.parse.unquote`, never ``unquote_plus``: ``+`` stays ``+``. A query holding ``&``, ``#`` or ``%``
must encode them (``%26``, ``%23``, ``%25``); ``urllib.parse.quote(sql)`` encodes a whole query.

A source query is untrusted text that runs next to the audit database, so it runs in a DuckDB connection that
cannot reach anything else: opened read-only, with external access off (no ``ATTACH``, ``COPY ... TO``, file
readers, extension installs) and the configuration locked so the query cannot turn it back on; and only one
``SELECT`` statement is accepted, checked with DuckDB's own parser. DuckDB connections to different files are
separate database instances, so even in the process that writes the audit database the source connection
cannot see it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import duckdb
import pandas as pd

from labelaudit.errors import InputDataError

SCHEME = "duckdb:"
_PREFIX = "duckdb:///"
_KNOWN = ("query", "table")
_ENCODE_HINT = (
    "percent-encode the query's '&' as %26, '#' as %23 and '%' as %25 "
    '(python -c "import urllib.parse,sys; print(urllib.parse.quote(sys.argv[1]))" "SELECT ...")'
)
#: The source connection's settings: nothing outside the source file, and no way to change that from SQL.
LOCKED_DOWN = {"enable_external_access": False, "autoinstall_known_extensions": False,
               "autoload_known_extensions": False, "lock_configuration": True}  # fmt: skip


@dataclass(frozen=True)
class DuckDBSource:
    """A parsed ``duckdb:`` source: the database file and the one ``SELECT`` to run in it."""

    database: Path
    query: str
    table: str | None = None


def is_duckdb_url(source: str) -> bool:
    return source.startswith(SCHEME)


def _split(source: str) -> tuple[str, str]:
    """The path part and the raw parameter part of a ``duckdb:`` URL, refusing forms outside the rule."""
    if not source.startswith(_PREFIX):
        raise InputDataError(
            "a DuckDB source is duckdb:///relative/path.duckdb?query=... (three slashes) or "
            "duckdb:////absolute/path.duckdb?query=... (four slashes)",
            source=source,
        )
    path, _, params = source[len(_PREFIX) :].partition("?")
    if not path:
        raise InputDataError("the DuckDB source names no database file", source=source)
    return path, params


def _parameters(params: str, source: str) -> dict[str, str]:
    """``query``/``table`` from the raw parameter string; ``&`` separates them, so an unknown one means a cut."""
    found: dict[str, str] = {}
    for part in params.split("&") if params else []:
        key, eq, value = part.partition("=")
        if not eq or key not in _KNOWN:
            cut = _unbalanced(found.get("query", ""))
            what = f"the query looks truncated ({cut}) " if cut else "if it is part of your query, the query was cut "
            raise InputDataError(
                f"unknown parameter {part[:40]!r} after '&' (known: query, table); {what}"
                f"at an unencoded '&': {_ENCODE_HINT}",
                source=source,
            )
        if key in found:
            raise InputDataError(f"parameter {key!r} is given twice", source=source)
        found[key] = unquote(value)
    if len(found) != 1:
        raise InputDataError(
            "a duckdb source needs ?query=SELECT... or ?table=name (exactly one of them)", source=source
        )
    return found


def parse_duckdb_url(source: str, *, base: Path | None = None) -> DuckDBSource:
    """Parse ``source`` (see module docstring); a relative path is taken from ``base`` (default: the cwd)."""
    path, params = _split(source)
    found = _parameters(params, source)
    database = Path(unquote(path)).expanduser()
    if not database.is_absolute() and base is not None:
        database = base / database
    if "table" in found:
        table = found["table"]
        quoted = '"' + table.replace('"', '""') + '"'
        return DuckDBSource(database, f"SELECT * FROM {quoted}", table)
    query = found["query"].strip().rstrip(";").strip()
    check_select(query, source)
    return DuckDBSource(database, query)


def resolve_duckdb_url(source: str, base: Path) -> str:
    """``source`` with a relative database path made absolute against ``base`` (the config file's folder).

    The parameter part is kept exactly as written, so its encoding is decoded once, when the source is read.
    """
    path, params = _split(source)
    if Path(unquote(path)).is_absolute():
        return source
    absolute = (base / unquote(path)).resolve()
    return f"{_PREFIX}{absolute.as_posix()}" + (f"?{params}" if params else "")


def _unbalanced(query: str) -> str | None:
    """What looks cut in a query DuckDB could not parse: an open quote or parenthesis (a hint, not a parser)."""
    depth, quote = 0, None
    for char in query:
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
    if quote:
        return f"a {quote} quote is not closed"
    if depth > 0:
        return f"{depth} parenthesis not closed"
    if depth < 0:
        return "a ')' closes nothing"
    return None


def check_select(query: str, source: str) -> None:
    """Accept exactly one ``SELECT`` (``WITH ... SELECT``, ``FROM ...``) statement, checked by DuckDB's parser."""
    if not query:
        raise InputDataError("the query is empty", source=source)
    try:
        statements = duckdb.extract_statements(query)
    except duckdb.Error as exc:
        problem = _unbalanced(query)
        if problem:
            message = f"the query looks truncated ({problem}): {query!r}; {_ENCODE_HINT}"
            raise InputDataError(message, source=source) from exc
        raise InputDataError(f"the query does not parse: {exc}", source=source) from exc
    if len(statements) != 1:
        raise InputDataError(f"the query holds {len(statements)} statements; give exactly one SELECT", source=source)
    kind = statements[0].type
    if kind != duckdb.StatementType.SELECT:
        raise InputDataError(
            f"only a SELECT query is accepted, not a {kind.name} statement (a source is read, never changed)",
            source=source,
        )


def read_duckdb(parsed: DuckDBSource, source: str) -> pd.DataFrame:
    """Run the source's ``SELECT`` in a read-only, locked-down connection to its database file."""
    if not parsed.database.is_file():
        raise InputDataError("database file does not exist", source=str(parsed.database))
    try:
        with duckdb.connect(str(parsed.database), read_only=True, config=dict(LOCKED_DOWN)) as con:
            return con.execute(parsed.query).df()
    except duckdb.Error as exc:
        raise InputDataError(f"query failed: {exc}", source=source) from exc
