"""Read one Civis SQL script (Redshift) into the tables it rebuilds and what is left over.

Recognised (each target must be rebuilt in full by the script, so a dbt model can replace it):

- `DROP TABLE IF EXISTS x; CREATE TABLE x [DISTKEY] [SORTKEY] [DISTSTYLE] AS SELECT ...`
- `CREATE TABLE x (cols); INSERT INTO x [(cols)] SELECT ...` (several INSERTs: `union all`)
- `[BEGIN;] DELETE FROM x; INSERT INTO x SELECT ...; [COMMIT;]` and `TRUNCATE x; INSERT ...`
- `CREATE [OR REPLACE] VIEW x AS SELECT ...`
- temporary tables (`CREATE TEMP TABLE`, `#t`, `SELECT ... INTO TEMP`) read later: CTEs
- `GRANT ... ON x TO ...`: the model's grants

Anything else is *left over*: kept verbatim for a person to port, with the reason. When a
leftover statement changes a table the script also rebuilds (UPDATE, ALTER, a partial DELETE),
the script cannot be split: no model comes out of it, all of it is left over.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, SqlglotError

from assetgraph.ext.civis._objects import CivisObject
from assetgraph.ext.civis.errors import CivisSqlParseError

__all__ = ["TableName", "TableWrite", "Leftover", "ScriptPlan", "plan_script", "DIALECT"]

DIALECT = "redshift"
logging.getLogger("sqlglot").setLevel(logging.ERROR)  # "falling back to Command" is ours to report


@dataclass(frozen=True, order=True)
class TableName:
    schema: str
    name: str

    @classmethod
    def of(cls, table: exp.Table) -> "TableName":
        return cls((table.db or "public").lower(), table.name.lower())

    @property
    def key(self) -> str:
        return f"{self.schema}/{self.name}"

    def __str__(self) -> str:
        return f"{self.schema}.{self.name}"


@dataclass(frozen=True)
class TableWrite:
    """One table a script rebuilds: the rows it ends up with, and its physical settings."""

    table: TableName
    query: exp.Query  # temp tables already attached as CTEs; table references still raw
    materialized: str = "table"  # table | view
    columns: tuple[tuple[str, str], ...] = ()  # from CREATE TABLE (name, type), when declared
    not_null: tuple[str, ...] = ()  # declared NOT NULL or PRIMARY KEY
    unique: tuple[str, ...] = ()  # declared PRIMARY KEY / UNIQUE (one column)
    dist: str | None = None  # DISTKEY column, or "even"/"all"/"auto" from DISTSTYLE
    sort: tuple[str, ...] = ()
    grants: tuple[tuple[str, str, bool], ...] = ()  # (privilege, grantee, grantee is a group)
    notes: tuple[str, ...] = ()  # needs attention, about this model
    comments: tuple[str, ...] = ()  # the script's comments on the statements that built it

    @property
    def reads(self) -> frozenset[TableName]:
        ctes = {c.alias_or_name.lower() for c in self.query.find_all(exp.CTE)}
        return frozenset(
            TableName.of(t) for t in self.query.find_all(exp.Table)
            if t.name and not (not t.db and t.name.lower() in ctes)
        )


@dataclass(frozen=True)
class Leftover:
    sql: str
    reason: str


@dataclass(frozen=True)
class ScriptPlan:
    obj: CivisObject
    writes: tuple[TableWrite, ...] = ()
    leftovers: tuple[Leftover, ...] = ()
    landed: tuple[TableName, ...] = ()  # tables a leftover writes (COPY ...): not models
    notes: tuple[str, ...] = ()  # informational (maintenance statements dropped, ...)

    @property
    def reads(self) -> frozenset[TableName]:
        out: set[TableName] = set()
        for w in self.writes:
            out |= w.reads
        return frozenset(out - {w.table for w in self.writes})


def parse_sql(obj: CivisObject, sql: str) -> list[exp.Expression]:
    try:
        return [s for s in sqlglot.parse(sql, read=DIALECT) if s is not None]
    except ParseError as exc:
        first = (exc.errors or [{}])[0]
        where = f"line {first.get('line')}, column {first.get('col')}" if first.get("line") else ""
        what = first.get("description") or str(exc).splitlines()[0]
        raise CivisSqlParseError(obj.kind_label, obj.id, obj.name,
                                 f"sqlglot (redshift) cannot parse the SQL at {where}: {what}") from None
    except SqlglotError as exc:
        raise CivisSqlParseError(obj.kind_label, obj.id, obj.name,
                                 f"sqlglot (redshift) cannot parse the SQL: {str(exc).splitlines()[0]}") from None


# ---- statement reading ---------------------------------------------------------------------
@dataclass
class _Target:
    table: TableName
    materialized: str = "table"
    columns: tuple[tuple[str, str], ...] = ()
    not_null: tuple[str, ...] = ()
    unique: tuple[str, ...] = ()
    branches: list[tuple[exp.Query, tuple[str, ...]]] = field(default_factory=list)  # (select, insert cols)
    rebuilt: bool = False  # created, CTAS'd, emptied (DELETE without WHERE / TRUNCATE)
    dist: str | None = None
    sort: tuple[str, ...] = ()
    grants: list[tuple[str, str, bool]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)


def _is_temp(create: exp.Expression, table: exp.Table) -> bool:
    props = create.args.get("properties")
    temp = bool(props and any(isinstance(p, exp.TemporaryProperty) for p in props.expressions))
    return temp or table.name.startswith("#")


def _physical(props: exp.Properties | None, target: _Target) -> None:
    for p in (props.expressions if props else ()):
        if isinstance(p, exp.DistKeyProperty):
            target.dist = p.this.name.lower()
        elif isinstance(p, exp.DistStyleProperty):
            style = p.this.name.lower()
            if style != "key":
                target.dist = style
        elif isinstance(p, exp.SortKeyProperty):
            cols = p.this if isinstance(p.this, list) else p.expressions
            target.sort = tuple(c.name.lower() for c in cols)


def _columns(schema: exp.Schema) -> tuple[tuple[str, str], ...]:
    cols = []
    for col in schema.expressions:
        if isinstance(col, exp.ColumnDef):
            kind = col.args.get("kind")
            cols.append((col.name.lower(), kind.sql(DIALECT).lower() if kind else "varchar"))
    return tuple(cols)


def _constraints(schema: exp.Schema) -> tuple[tuple[str, ...], tuple[str, ...]]:
    not_null: list[str] = []
    unique: list[str] = []
    for col in schema.expressions:
        if isinstance(col, exp.ColumnDef):
            kinds = [c.args.get("kind") for c in col.args.get("constraints") or []]
            if any(isinstance(k, (exp.NotNullColumnConstraint, exp.PrimaryKeyColumnConstraint)) for k in kinds):
                if not any(isinstance(k, exp.NotNullColumnConstraint) and k.args.get("allow_null") for k in kinds):
                    not_null.append(col.name.lower())
            if any(isinstance(k, (exp.PrimaryKeyColumnConstraint, exp.UniqueColumnConstraint)) for k in kinds):
                unique.append(col.name.lower())
        elif isinstance(col, exp.PrimaryKey) and len(col.expressions) == 1:
            unique.append(col.expressions[0].name.lower())
            not_null.append(col.expressions[0].name.lower())
    return tuple(dict.fromkeys(not_null)), tuple(dict.fromkeys(unique))


def _text(stmt: exp.Expression) -> str:
    return stmt.sql(DIALECT, pretty=True)


_MAINTENANCE = ("VACUUM", "ANALYZE", "SET", "RESET")
_LEFTOVER_REASONS = {
    "UNLOAD": "UNLOAD writes files to S3: port it as a Python asset (or dbt operation)",
    "CALL": "calls a stored procedure: port the procedure's body",
    "EXECUTE": "dynamic SQL (EXECUTE): the statement is only known at run time",
    "PREPARE": "dynamic SQL (PREPARE): the statement is only known at run time",
}


class _Reader:
    def __init__(self, obj: CivisObject) -> None:
        self.obj = obj
        self.targets: dict[TableName, _Target] = {}
        self.temps: dict[str, exp.Query] = {}  # temp name -> its rows (union of its inserts)
        self.temp_cols: dict[str, tuple[str, ...]] = {}
        self.leftovers: list[Leftover] = []
        self.landed: list[TableName] = []
        self.notes: list[str] = []
        self.unsplittable: list[str] = []
        self.pending_comments: list[str] = []  # on temp tables: go to the model that reads them
        self.table_comments: dict[TableName, list[str]] = {}

    def target(self, table: exp.Table) -> _Target:
        name = TableName.of(table)
        return self.targets.setdefault(name, _Target(name))

    def read(self, stmt: exp.Expression) -> None:
        self._read(stmt)
        table = stmt.find(exp.Table)
        comments = [c.strip() for c in stmt.comments or () if c.strip()]
        if comments and table is not None:
            if self._temp_name(table):
                self.pending_comments += comments
            else:
                self.table_comments.setdefault(TableName.of(table), []).extend(comments)

    def _read(self, stmt: exp.Expression) -> None:
        if isinstance(stmt, (exp.Transaction, exp.Commit, exp.Rollback)):
            return
        if isinstance(stmt, exp.Drop):
            return self._drop(stmt)
        if isinstance(stmt, exp.Create):
            return self._create(stmt)
        if isinstance(stmt, exp.Insert):
            return self._insert(stmt)
        if isinstance(stmt, exp.Delete):
            return self._delete(stmt)
        if isinstance(stmt, exp.TruncateTable):
            for t in stmt.expressions:
                if isinstance(t, exp.Table) and not self._temp_name(t):
                    self.target(t).rebuilt = True
            return
        if isinstance(stmt, exp.Grant):
            return self._grant(stmt)
        if isinstance(stmt, exp.Select) and stmt.args.get("into") is not None:
            return self._select_into(stmt)
        if isinstance(stmt, (exp.Select, exp.Union)):
            self.notes.append("a bare SELECT (its result was not stored) was not carried over")
            return
        if isinstance(stmt, exp.Copy):
            self.landed.append(TableName.of(stmt.this))
            return self._leftover(stmt, "COPY loads files from S3: port it as an extraction asset")
        if isinstance(stmt, (exp.Update, exp.Merge, exp.Alter)):
            table = stmt.this if isinstance(stmt.this, exp.Table) else stmt.find(exp.Table)
            name = TableName.of(table) if table is not None else None
            verb = type(stmt).__name__.upper()
            if name is not None and (name in self.targets or self._temp_name(table)):
                self.unsplittable.append(f"{verb} changes {name} after it is built")
            return self._leftover(stmt, f"{verb} is not a table rebuild")
        if isinstance(stmt, exp.Command):
            word = str(stmt.this).upper()
            if word in _MAINTENANCE:
                self.notes.append(f"{word} (maintenance) is not needed under dbt: not carried over")
                return
            reason = _LEFTOVER_REASONS.get(word, f"{word} is not a statement dbt can own")
            return self._leftover(stmt, reason)
        return self._leftover(stmt, f"{type(stmt).__name__.upper()} statement is not a table rebuild")

    def _leftover(self, stmt: exp.Expression, reason: str) -> None:
        self.leftovers.append(Leftover(_text(stmt), reason))

    def _temp_name(self, table: exp.Table) -> str | None:
        name = table.name.lower()
        return name if not table.db and (name in self.temps or name in self.temp_cols) else None

    def _drop(self, stmt: exp.Drop) -> None:
        kind = str(stmt.args.get("kind") or "").upper()
        if kind not in ("TABLE", "VIEW"):
            return self._leftover(stmt, f"DROP {kind} is not a table rebuild")
        # DROP before a CREATE of the same table: dbt replaces the relation itself.

    def _create(self, stmt: exp.Create) -> None:
        kind = str(stmt.args.get("kind") or "").upper()
        this = stmt.this
        table = this.this if isinstance(this, exp.Schema) else this
        if kind not in ("TABLE", "VIEW") or not isinstance(table, exp.Table):
            return self._leftover(stmt, f"CREATE {kind} is not a table: port it by hand")
        query = stmt.expression
        if _is_temp(stmt, table):
            name = table.name.lower()
            if isinstance(query, exp.Query):
                self.temps[name] = query
            else:
                self.temp_cols[name] = tuple(c for c, _ in _columns(this)) if isinstance(this, exp.Schema) else ()
            return
        target = self.target(table)
        target.rebuilt = True
        target.materialized = "view" if kind == "VIEW" else "table"
        _physical(stmt.args.get("properties"), target)
        if isinstance(this, exp.Schema):
            target.columns = _columns(this)
            target.not_null, target.unique = _constraints(this)
        if isinstance(query, exp.Query):
            target.branches.append((query, ()))

    def _insert(self, stmt: exp.Insert) -> None:
        this = stmt.this
        table = this.this if isinstance(this, exp.Schema) else this
        cols = tuple(c.name.lower() for c in this.expressions) if isinstance(this, exp.Schema) else ()
        query = stmt.expression
        if not isinstance(query, exp.Query):
            return self._leftover(stmt, "INSERT ... VALUES: port the rows as a dbt seed")
        temp = self._temp_name(table)
        if temp is not None:
            if cols or self.temp_cols.get(temp):
                query = _realias(query, cols or self.temp_cols[temp])
            prior = self.temps.get(temp)
            self.temps[temp] = query if prior is None else exp.union(prior, query, distinct=False)
            return
        target = self.target(table)
        target.branches.append((query, cols))

    def _delete(self, stmt: exp.Delete) -> None:
        table = stmt.this
        if not isinstance(table, exp.Table) or self._temp_name(table):
            return
        target = self.target(table)
        where = stmt.args.get("where")
        if where is None:
            target.rebuilt = True
            return
        self.unsplittable.append(
            f"{target.table} is updated incrementally (DELETE ... {where.sql(DIALECT)}, then INSERT):"
            " port it as an incremental model"
        )

    def _grant(self, stmt: exp.Grant) -> None:
        table = stmt.args.get("securable")
        privileges = [p.this.name.lower() if isinstance(p.this, exp.Expression) else str(p.this).lower()
                      for p in stmt.args.get("privileges") or []]
        if not isinstance(table, exp.Table) or TableName.of(table) not in self.targets:
            return self._leftover(stmt, "GRANT on an object this script does not build")
        target = self.target(table)
        for principal in stmt.args.get("principals") or []:
            group = str(principal.args.get("kind") or "").upper() == "GROUP"
            for privilege in privileges:
                target.grants.append((privilege, principal.name.lower(), group))

    def _select_into(self, stmt: exp.Select) -> None:
        into = stmt.args["into"]
        table = into.this
        query = stmt.copy()
        query.set("into", None)
        if into.args.get("temporary") or table.name.startswith("#"):
            self.temps[table.name.lower()] = query
            return
        target = self.target(table)
        target.rebuilt = True
        target.branches.append((query, ()))


# ---- assembling one model's query ----------------------------------------------------------
def _realias(query: exp.Query, names: tuple[str, ...]) -> exp.Query:
    """Give a SELECT's projections the insert's column names (positionally)."""
    if not isinstance(query, exp.Select) or not names:
        return query
    projections = query.expressions
    if any(isinstance(p, exp.Star) or (isinstance(p, exp.Column) and isinstance(p.this, exp.Star))
           for p in projections) or len(projections) != len(names):
        return query
    query = query.copy()
    query.set("expressions", [
        p if p.alias_or_name.lower() == n else exp.alias_(p.unalias() if isinstance(p, exp.Alias) else p, n)
        for p, n in zip(projections, names)
    ])
    return query


def _typed(query: exp.Query, insert_cols: tuple[str, ...], columns: tuple[tuple[str, str], ...]) -> exp.Query:
    """A branch as the declared table: every declared column, in order, cast to its type."""
    names = insert_cols or tuple(c for c, _ in columns)
    query = _realias(query, names)
    if not columns or not isinstance(query, exp.Select):
        return query
    by_name = {p.alias_or_name.lower(): p for p in query.expressions}
    if set(names) - set(by_name):
        return query
    out = []
    for name, type_ in columns:
        proj = by_name.get(name)
        value = (proj.unalias() if isinstance(proj, exp.Alias) else proj) if proj is not None else exp.null()
        cast = exp.cast(value.copy(), exp.DataType.build(type_, dialect=DIALECT))
        out.append(exp.alias_(cast, name))
    query = query.copy()
    query.set("expressions", out)
    return query


def _with_temps(query: exp.Query, temps: dict[str, exp.Query]) -> tuple[exp.Query, list[str]]:
    """Attach the temp tables the query reads (transitively) as CTEs, in creation order."""
    notes: list[str] = []
    needed: list[str] = []

    def visit(q: exp.Expression) -> None:
        for t in q.find_all(exp.Table):
            name = t.name.lower()
            if not t.db and name in temps and name not in needed:
                visit(temps[name])
                needed.append(name)

    visit(query)
    if not needed:
        return query, notes
    order = [n for n in temps if n in needed]
    query = query.copy()
    own = query.args.get("with_")
    ctes: list[exp.CTE] = []
    for name in order:
        body = temps[name].copy()
        inner = body.args.get("with_")
        if inner is not None:  # hoist: no nested WITH inside a CTE
            ctes.extend(c.copy() for c in inner.expressions)
            body.set("with_", None)
        ctes.append(exp.CTE(this=body, alias=exp.TableAlias(this=exp.to_identifier(_cte_name(name)))))
    if own is not None:
        ctes.extend(own.expressions)
    for t in query.find_all(exp.Table):
        if not t.db and t.name.lower() in needed:
            t.set("this", exp.to_identifier(_cte_name(t.name.lower())))
    for cte in ctes:
        for t in cte.this.find_all(exp.Table):
            if not t.db and t.name.lower() in needed:
                t.set("this", exp.to_identifier(_cte_name(t.name.lower())))
    names = [c.alias_or_name for c in ctes]
    if len(set(names)) != len(names):
        notes.append("a temporary table and a CTE share a name: check the generated CTEs")
    query.set("with_", exp.With(expressions=ctes))
    return query, notes


def _cte_name(temp: str) -> str:
    return temp.lstrip("#")


def _assemble(t: _Target, temps: dict[str, exp.Query]) -> TableWrite:
    branches = [_typed(q, cols, t.columns) for q, cols in t.branches]
    query: exp.Query = branches[0]
    for b in branches[1:]:
        query = exp.union(query, b, distinct=False)
    query, notes = _with_temps(query, temps)
    return TableWrite(
        table=t.table,
        query=query,
        materialized=t.materialized,
        columns=t.columns,
        not_null=t.not_null,
        unique=t.unique,
        dist=t.dist,
        sort=t.sort,
        grants=tuple(dict.fromkeys(t.grants)),
        notes=tuple(t.notes + notes),
        comments=tuple(dict.fromkeys(t.comments)),
    )


def plan_script(obj: CivisObject) -> ScriptPlan:
    """Split one SQL script into table rebuilds (models) and leftovers (needs attention)."""
    sql = str(obj.body.get("sql") or "")
    statements = parse_sql(obj, sql)
    reader = _Reader(obj)
    for stmt in statements:
        reader.read(stmt)
    problems = list(reader.unsplittable)
    for name, t in reader.targets.items():
        if name in reader.landed:
            continue  # loaded by a leftover (TRUNCATE + COPY): not a model
        if not t.branches and t.grants == [] and not t.rebuilt:
            continue
        if not t.branches:
            problems.append(f"{name} is emptied or created but never filled by a SELECT")
        elif not t.rebuilt:
            problems.append(f"{name} only gets rows appended (INSERT without DELETE/TRUNCATE/CREATE):"
                            " port it as an incremental model")
    for t in reader.targets.values():
        t.comments = reader.pending_comments + reader.table_comments.get(t.table, [])
    writes = [] if problems else [_assemble(t, reader.temps) for t in reader.targets.values()
                                  if t.branches and t.table not in reader.landed]
    for w in writes:
        if w.table in w.reads:
            problems.append(f"{w.table} reads itself")
    if problems:
        return ScriptPlan(
            obj, (), (Leftover(sql.strip(), "cannot split this script into models: " + "; ".join(problems)),),
            tuple(dict.fromkeys([*reader.landed, *reader.targets])), tuple(reader.notes),
        )
    return ScriptPlan(obj, tuple(writes), tuple(reader.leftovers), tuple(reader.landed), tuple(reader.notes))
