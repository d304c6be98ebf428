#!/usr/bin/env python3
"""Runs suite cases through psycopg 3 against cairn's PostgreSQL port.

usage: run_psycopg.py PORT MODE CASES.json

Prints one JSON line per case: {"case", "rows", "columns", "rowcount", "error"}, every value
as PostgreSQL's text for it (pgtext.py). Modes:
  simple    ClientCursor: psycopg inlines the parameters, simple query protocol; autocommit
  extended  server-side parameters, every statement prepared (Parse/Bind/Execute); autocommit
            off, as psycopg's default: each case is committed, or rolled back after an error
  binary    server-side parameters, binary parameters and results; autocommit
"""
import json
import re
import sys

import psycopg

import pgtext

PLACEHOLDER = re.compile(r"\$(\d+)")


def connect(port, mode):
    return psycopg.connect(host="127.0.0.1", port=port, user="cairn", dbname="default",
                           autocommit=(mode != "extended"), connect_timeout=10)


def cursor(conn, mode):
    if mode == "simple":
        return psycopg.ClientCursor(conn)
    return conn.cursor(binary=(mode == "binary"))


def bind(sql, params):
    """`$n` placeholders as psycopg's `%s`, with the values in placeholder order."""
    if not params:
        return sql, None
    values = []

    def sub(m):
        values.append(pgtext.param(params[int(m.group(1)) - 1]))
        return "%s"

    return PLACEHOLDER.sub(sub, sql.replace("%", "%%")), values


def execute(cur, mode, sql, params):
    query, values = bind(sql, params)
    cur.execute(query, values, prepare=True if mode == "extended" else None)


def collect(cur, out):
    """Rows of every result of the last execute (several for a multi-statement string)."""
    while True:
        if cur.description is not None:
            out["columns"] = [d.name for d in cur.description]
            out["rows"].extend([pgtext.text(v) for v in row] for row in cur.fetchall())
        elif cur.rowcount >= 0:
            out["rowcount"] = cur.rowcount
        if not cur.nextset():
            break


def run_case(conn, mode, case):
    out = {"case": case["name"], "rows": [], "columns": None, "rowcount": None, "error": None}
    params = [tuple(p) for p in case.get("params", [])]
    action = case.get("action")
    with cursor(conn, mode) as cur:
        if action == "copy_csv":
            with cur.copy(case["sql"][0]) as copy:
                copy.write(case["data"])
            out["rowcount"] = cur.rowcount
        elif action == "repeat":
            for values in case["param_sets"]:
                execute(cur, mode, case["sql"][0], [tuple(p) for p in values])
                collect(cur, out)
        else:
            for sql in case["sql"]:
                execute(cur, mode, sql, params if PLACEHOLDER.search(sql) else [])
                collect(cur, out)
    return out


def main():
    port, mode, path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    with open(path) as f:
        cases = json.load(f)
    conn = connect(port, mode)
    for case in cases:
        try:
            out = run_case(conn, mode, case)
            if not conn.autocommit:
                conn.commit()
        except Exception as e:  # every failure is the case's answer
            out = {"case": case["name"], "rows": None, "columns": None, "rowcount": None,
                   "error": {"sqlstate": getattr(e, "sqlstate", None),
                             "message": f"{type(e).__name__}: {e}"}}
            if conn.closed:
                conn = connect(port, mode)
            elif not conn.autocommit:
                try:
                    conn.rollback()
                except psycopg.Error as r:
                    print(f"{case['name']}: rollback failed: {r}", file=sys.stderr)
                    conn.close()
                    conn = connect(port, mode)
        print(json.dumps(out), flush=True)
    conn.close()


if __name__ == "__main__":
    main()
