// The embedded database (PGlite: PostgreSQL compiled to WASM) in a worker thread of its own,
// so its statements never hold the HTTP event loop (server/src/platform/db/pglite-thread.ts).
// Plain JavaScript so the same file serves the compiled server and the tests.
import { parentPort, workerData } from 'node:worker_threads';
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';

/** What crosses the thread boundary of an error: its message and PostgreSQL's fields, not the statement or its values. */
function serialise(error) {
  const out = { name: error?.name ?? 'Error', message: error?.message ?? String(error) };
  for (const key of ['code', 'severity', 'detail', 'hint', 'position', 'schema', 'table', 'column', 'dataType', 'constraint', 'routine']) {
    if (error && error[key] !== undefined) out[key] = error[key];
  }
  return out;
}

function byteaBytes(value) {
  if (!(value instanceof Uint8Array)) throw new Error('Invalid input for bytea type'); // as PGlite's own codec
  return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

let db;
try {
  // The same options as PGLITE_OPTIONS in platform/db/database.ts (pgvector, bytea as hex through
  // Buffer), which this plain file cannot import.
  db = await PGlite.create({
    dataDir: workerData.dataDir,
    extensions: { vector },
    serializers: { 17: (value) => `\\x${byteaBytes(value).toString('hex')}` },
    parsers: { 17: (text) => Buffer.from(text.slice(2), 'hex') },
  });
  parentPort.postMessage({ ready: true });
} catch (error) {
  parentPort.postMessage({ ready: false, error: serialise(error) });
}

parentPort.on('message', async ({ id, op, sql, params }) => {
  try {
    if (op === 'query') {
      const result = await db.query(sql, params);
      parentPort.postMessage({ id, results: [{ rows: result.rows, affectedRows: result.affectedRows ?? 0 }] });
    } else if (op === 'exec') {
      const results = await db.exec(sql);
      parentPort.postMessage({ id, results: results.map((r) => ({ rows: r.rows, affectedRows: r.affectedRows ?? 0 })) });
    } else if (op === 'close') {
      if (!db.closed) await db.close();
      parentPort.postMessage({ id, results: [] });
    }
  } catch (error) {
    parentPort.postMessage({ id, error: serialise(error) });
  }
});
