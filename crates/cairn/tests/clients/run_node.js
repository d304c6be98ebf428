#!/usr/bin/env node
// Runs suite cases through node-postgres (npm `pg`) against cairn's PostgreSQL port.
//
// usage: node run_node.js PORT MODE CASES.json   (NODE_PATH names the node_modules holding pg)
//
// Prints one JSON line per case: {case, rows, columns, rowcount, error}, every value as
// PostgreSQL's text for it. Modes:
//   simple    parameters inlined as SQL literals (client.escapeLiteral), simple query protocol
//   extended  client.query({text, values}): the unnamed statement, parameters sent as text
//             with unspecified types (pg's default); a statement without parameters goes over
//             the simple protocol, as pg does
//   prepared  client.query({name, text, values}): a named statement, always the extended
//             protocol, reused by name within a case
'use strict';

const fs = require('fs');
const { Client } = require('pg');

const PLACEHOLDER = /\$(\d+)/g;
const HAS_PLACEHOLDER = /\$\d/;

// float8 as PostgreSQL 12+ prints it: shortest exact digits, fixed notation for decimal
// exponents -4..14, scientific (1e+20) outside.
function pgFloat(x) {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return 'Infinity';
  if (x === -Infinity) return '-Infinity';
  if (x === 0) return Object.is(x, -0) ? '-0' : '0';
  const [mant, expText] = Math.abs(x).toExponential().split('e');
  const digits = mant.replace('.', '');
  const e = Number(expText);
  const sign = x < 0 ? '-' : '';
  if (e >= -4 && e < 15) {
    const point = e + 1;
    if (point >= digits.length) return sign + digits + '0'.repeat(point - digits.length);
    if (point > 0) return sign + digits.slice(0, point) + '.' + digits.slice(point);
    return sign + '0.' + '0'.repeat(-point) + digits;
  }
  const m = digits.length > 1 ? digits[0] + '.' + digits.slice(1) : digits;
  return `${sign}${m}e${e >= 0 ? '+' : '-'}${String(Math.abs(e)).padStart(2, '0')}`;
}

// timestamptz (oid 1184) in UTC with "+00"; timestamp (1114) without an offset.
function pgTimestamp(d, oid) {
  const s = d.toISOString().slice(0, 23).replace('T', ' ').replace(/0+$/, '').replace(/\.$/, '');
  return oid === 1114 ? s : s + '+00';
}

function text(v, oid) {
  if (v === null || v === undefined) return null;
  if (typeof v === 'boolean') return v ? 't' : 'f';
  if (typeof v === 'number') return pgFloat(v);
  if (v instanceof Date) return pgTimestamp(v, oid);
  return String(v);
}

// A suite parameter [type, value] as the JavaScript value a program would pass.
function param([kind, v]) {
  if (v === null) return null;
  switch (kind) {
    case 'int':
      return Number(v);
    case 'float':
      return Number(v); // "NaN", "Infinity" included
    case 'bool':
      return Boolean(v);
    case 'timestamp':
      return new Date(v);
    default:
      return String(v);
  }
}

function literal(client, [kind, v]) {
  if (v === null) return 'NULL';
  switch (kind) {
    case 'int':
      return String(v);
    case 'float':
      return typeof v === 'string' ? `CAST(${client.escapeLiteral(v)} AS DOUBLE PRECISION)` : String(v);
    case 'bool':
      return v ? 'TRUE' : 'FALSE';
    default:
      return client.escapeLiteral(String(v));
  }
}

function collect(result, out) {
  for (const r of Array.isArray(result) ? result : [result]) {
    if (r.fields && r.fields.length > 0) {
      out.columns = r.fields.map((f) => f.name);
      const oids = r.fields.map((f) => f.dataTypeID);
      for (const row of r.rows) out.rows.push(row.map((v, i) => text(v, oids[i])));
    } else if (r.command && r.rowCount !== null && r.rowCount !== undefined) {
      out.rowcount = r.rowCount;
    }
  }
}

async function execute(client, mode, name, sql, params) {
  const values = [];
  const text = sql.replace(PLACEHOLDER, (_, n) => {
    const p = params[Number(n) - 1];
    if (mode === 'simple') return literal(client, p);
    values.push(param(p));
    return `$${values.length}`;
  });
  if (mode === 'simple') return client.query({ text, rowMode: 'array' });
  if (mode === 'prepared') return client.query({ name, text, values, rowMode: 'array' });
  return client.query({ text, values, rowMode: 'array' });
}

async function runCase(client, mode, c) {
  const out = { case: c.name, rows: [], columns: null, rowcount: null, error: null };
  const params = c.params || [];
  if (c.action === 'repeat') {
    for (const set of c.param_sets) {
      collect(await execute(client, mode, c.name, c.sql[0], set), out);
    }
    return out;
  }
  for (const [i, sql] of c.sql.entries()) {
    const name = `${c.name}_${i}`;
    collect(await execute(client, mode, name, sql, HAS_PLACEHOLDER.test(sql) ? params : []), out);
  }
  return out;
}

async function connect(port) {
  const client = new Client({
    host: '127.0.0.1',
    port,
    user: 'cairn',
    database: 'default',
    connectionTimeoutMillis: 10000,
  });
  client.on('error', (e) => console.error(`connection error: ${e.message}`));
  await client.connect();
  return client;
}

async function main() {
  const [port, mode, path] = process.argv.slice(2);
  const cases = JSON.parse(fs.readFileSync(path, 'utf8'));
  let client = await connect(Number(port));
  for (const c of cases) {
    let out;
    try {
      out = await runCase(client, mode, c);
    } catch (e) {
      out = {
        case: c.name,
        rows: null,
        columns: null,
        rowcount: null,
        error: { sqlstate: e.code || null, message: String(e.message || e) },
      };
      if (!client._queryable || client._ending) {
        client = await connect(Number(port));
      }
    }
    process.stdout.write(JSON.stringify(out) + '\n');
  }
  await client.end();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
