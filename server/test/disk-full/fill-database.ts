/**
 * Child process of disk-full.test.ts: opens the embedded database under DATA_DIR (a small
 * tmpfs), writes until the disk is full, then keeps trying. One JSON line per event on
 * stdout. A separate process, so a database that spins instead of failing (the defect
 * this guards against) is killed by the test rather than freezing it.
 */
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { pino } from 'pino';
import { loadConfig } from '../../src/config/index.js';
import { openDatabase } from '../../src/platform/db/database.js';

const say = (event: Record<string, unknown>): void => void process.stdout.write(`${JSON.stringify({ at: Date.now(), ...event })}\n`);
// argv: DATA_DIR, STORAGE_MIN_FREE_BYTES.
const [dataDir, minFree] = process.argv.slice(2) as [string, string];
const config = loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', DATA_DIR: dataDir, STORAGE_MIN_FREE_BYTES: minFree });
const database = await openDatabase(config, pino({ level: 'silent' }));
const { db } = database;
await sql`create table ballast (id serial primary key, data text not null)`.execute(db);
say({ event: 'open' });

// 1. Fill: incompressible rows until the database refuses one.
let rows = 0;
let failure: { code?: string; message: string } | undefined;
while (!failure) {
  try {
    await sql`insert into ballast (data) values (${randomBytes(128 * 1024).toString('base64')})`.execute(db);
    rows++;
  } catch (error) {
    failure = { code: (error as { code?: string }).code, message: (error as Error).message };
  }
}
say({ event: 'full', rows, ...failure });

// 2. The next statements must fail at once, not spin (the event loop stays free).
const started = Date.now();
const next = await sql`select count(*)::int as n from ballast`.execute(db).then(
  () => ({ ok: true }),
  (error: unknown) => ({ ok: false, code: (error as { code?: string }).code }),
);
say({ event: 'after-full', ms: Date.now() - started, ...next });

// 3. Keep trying (the test frees space meanwhile); report the first success.
for (;;) {
  await new Promise((resolve) => setTimeout(resolve, 250));
  try {
    await sql`insert into ballast (data) values ('after')`.execute(db);
    const { n } = (await sql<{ n: number }>`select count(*)::int as n from ballast`.execute(db)).rows[0]!;
    say({ event: 'recovered', count: n });
    break;
  } catch (error) {
    say({ event: 'still-stopped', code: (error as { code?: string }).code });
  }
}
await database.close();
say({ event: 'closed' });
