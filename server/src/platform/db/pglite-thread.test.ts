import { PGlite } from '@electric-sql/pglite';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger, tempDir, testConfig } from '../../../test/harness.js';
import { randomBytes } from 'node:crypto';
import { openDatabase, PGLITE_BYTEA, PGLITE_OPTIONS, wrapPGlite, type Database } from './database.js';
import type { PGliteSession } from './pglite-dialect.js';
import { PGliteThread } from './pglite-thread.js';

/** The longest the event loop went without running a timer while `work` ran, and how long `work` took. */
async function loopHeldDuring(work: () => Promise<unknown>): Promise<{ heldMs: number; tookMs: number }> {
  let last = performance.now();
  let heldMs = 0;
  const tick = setInterval(() => {
    const now = performance.now();
    heldMs = Math.max(heldMs, now - last);
    last = now;
  }, 5);
  const started = performance.now();
  try {
    await work();
  } finally {
    clearInterval(tick);
  }
  const ended = performance.now();
  return { heldMs: Math.max(heldMs, ended - last), tookMs: ended - started };
}

/** A statement that keeps PostgreSQL busy for a second or so. */
const BUSY = sql`select count(*) as n from generate_series(1, 4000000) g where g % 7 = 3`;

describe('the embedded database in a worker thread', () => {
  let dir: string;
  let thread: PGliteThread;
  let database: Database;

  beforeAll(async () => {
    dir = await tempDir('pglite-thread');
    thread = await PGliteThread.open(dir);
    database = wrapPGlite(thread, { recovery: { logger: silentLogger, reopen: () => PGliteThread.open(dir), retryMs: 0 } });
  }, 60_000);
  afterAll(async () => {
    await database?.close();
  });

  it('runs a long statement without holding the event loop, where PGlite in process holds it throughout', async () => {
    // As `serve` opens it: the configured embedded database under DATA_DIR.
    const served = await openDatabase(testConfig({ DATA_DIR: await tempDir('pglite-served') }), silentLogger);
    let threaded: Awaited<ReturnType<typeof loopHeldDuring>>;
    try {
      threaded = await loopHeldDuring(() => BUSY.execute(served.db));
    } finally {
      await served.close();
    }
    const inProcess = wrapPGlite(await PGlite.create());
    try {
      const inline = await loopHeldDuring(() => BUSY.execute(inProcess.db));
      expect(inline.heldMs).toBeGreaterThan(inline.tookMs / 2); // the measurement sees a blocked loop
    } finally {
      await inProcess.close();
    }
    expect(threaded.tookMs).toBeGreaterThan(200);
    // Relative to the statement, not a fixed figure: on a machine busy with other tests a timer
    // can be late by some tens of ms whoever runs the statement (105 ms was seen in CI).
    expect(threaded.heldMs).toBeLessThan(Math.min(250, threaded.tookMs / 4));
  }, 60_000);

  it('converts bytea with Buffer’s native hex, and refuses what is not bytes as PGlite does', () => {
    expect(PGLITE_BYTEA.serializers[17](Buffer.from([0, 1, 254, 255]))).toBe('\\x0001feff');
    expect(PGLITE_BYTEA.serializers[17](new Uint8Array([7, 8]).subarray(1))).toBe('\\x08');
    expect(PGLITE_BYTEA.parsers[17]('\\x0001feff').equals(Buffer.from([0, 1, 254, 255]))).toBe(true);
    expect(() => PGLITE_BYTEA.serializers[17]('0001')).toThrow('Invalid input for bytea type');
  });

  it('stores and reads back an original of a few MB intact, in the thread and in process', async () => {
    const original = randomBytes(3 * 1024 * 1024 + 7);
    const inProcess = wrapPGlite(await PGlite.create(PGLITE_OPTIONS));
    try {
      for (const db of [database.db, inProcess.db]) {
        await sql`create temporary table originals (data bytea not null)`.execute(db);
        await sql`insert into originals (data) values (${original})`.execute(db);
        const { rows } = await sql<{ data: Uint8Array; size: number }>`select data, length(data) as size from originals`.execute(db);
        expect(rows[0]!.size).toBe(original.length);
        expect(Buffer.from(rows[0]!.data).equals(original)).toBe(true);
        await sql`drop table originals`.execute(db);
      }
    } finally {
      await inProcess.close();
    }
  }, 60_000);

  it('carries values and rows across intact', async () => {
    const when = new Date('2026-12-06T10:00:00.123Z');
    const bytes = Buffer.from([0, 1, 2, 250, 255]);
    const { rows } = await sql<{ t: Date; b: Uint8Array; j: { a: number[] }; n: string; arr: string[]; nul: null }>`
      select ${when}::timestamptz as t, ${bytes}::bytea as b, ${JSON.stringify({ a: [1, 2] })}::jsonb as j,
             ${'9007199254740993'}::int8 as n, ${['x', 'y']}::text[] as arr, null as nul`.execute(database.db);
    expect(rows[0]!.t.toISOString()).toBe(when.toISOString());
    expect(Buffer.from(rows[0]!.b).equals(bytes)).toBe(true);
    expect(rows[0]!.j).toEqual({ a: [1, 2] });
    expect(String(rows[0]!.n)).toBe('9007199254740993');
    expect(rows[0]!.arr).toEqual(['x', 'y']);
    expect(rows[0]!.nul).toBeNull();
  });

  it("gives errors PostgreSQL's fields, so constraint violations are told apart", async () => {
    await sql`create table pets (name text constraint pets_name_key unique)`.execute(database.db);
    await sql`insert into pets values (${'Rex'})`.execute(database.db);
    const error = await sql`insert into pets values (${'Rex'})`.execute(database.db).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({ code: '23505', constraint: 'pets_name_key' });
  });

  it('keeps a transaction on its one session while other statements wait', async () => {
    await sql`create table counter (n int)`.execute(database.db);
    await sql`insert into counter values (0)`.execute(database.db);
    await Promise.all(
      Array.from({ length: 20 }, () =>
        database.db.transaction().execute(async (trx) => {
          const { rows } = await sql<{ n: number }>`select n from counter`.execute(trx);
          await sql`update counter set n = ${rows[0]!.n + 1}`.execute(trx);
        }),
      ),
    );
    const { rows } = await sql<{ n: number }>`select n from counter`.execute(database.db);
    expect(rows[0]!.n).toBe(20);
  });

  it('fails what waits when the thread dies, then reopens on the same files', async () => {
    await sql`create table kept (v text)`.execute(database.db);
    await sql`insert into kept values (${'before the crash'})`.execute(database.db);
    const waiting = BUSY.execute(database.db);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await (thread as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate(); // a crash, as seen from here
    await expect(waiting).rejects.toMatchObject({ code: '57P01' });
    expect((thread as PGliteSession).lost).toBe(true);
    const { rows } = await sql<{ v: string }>`select v from kept`.execute(database.db);
    expect(rows).toEqual([{ v: 'before the crash' }]);
  }, 60_000);
});
