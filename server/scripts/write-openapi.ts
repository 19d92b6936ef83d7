/**
 * Builds the app on the embedded backends in memory (PGlite, the in-memory store), takes
 * its OpenAPI document and generates the web app's API types from it with openapi-typescript.
 *
 *   npm run api:types   writes web/src/lib/api/schema.d.ts
 *   npm run api:check   fails when the committed file differs from a fresh one (CI)
 *   --json <file>       also writes the OpenAPI document itself
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import openapiTS, { astToString, COMMENT_HEADER, type OpenAPI3 } from 'openapi-typescript';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config/index.js';
import { systemClock } from '../src/platform/clock.js';
import { Encryptor } from '../src/platform/crypto/envelope.js';
import { Keyring } from '../src/platform/crypto/keyring.js';
import { generateMasterKey } from '../src/platform/crypto/master-keys.js';
import { PGLITE_OPTIONS, wrapPGlite } from '../src/platform/db/database.js';
import { migrate } from '../src/platform/db/migrator.js';
import { createLogger } from '../src/platform/log.js';
import { OutboxMailer } from '../src/platform/mail/mailer.js';
import { MemoryStore } from '../src/platform/store/memory-store.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TYPES_FILE = path.join(ROOT, 'web/src/lib/api/schema.d.ts');

/** The document as GET /api/v1/openapi.json serves it, from a fixed configuration (the defaults). */
async function buildDocument(): Promise<OpenAPI3> {
  // An explicit environment, not the caller's: the document must not depend on who runs this.
  const config = loadConfig({ LOG_LEVEL: 'silent', DATA_DIR: os.tmpdir(), INGEST_IN_PROCESS: 'false' });
  const logger = createLogger('silent');
  const database = wrapPGlite(await PGlite.create(PGLITE_OPTIONS));
  const store = new MemoryStore({ maxKeys: 1_000, sweepIntervalMs: 0 });
  try {
    await migrate(database.db);
    const master = generateMasterKey();
    const encryptor = new Encryptor(database.db, new Keyring({ keys: [master], activeId: master.id }));
    const mailer = new OutboxMailer(database.db, encryptor, systemClock, logger);
    const app = await buildApp({ config, logger, database, store, encryptor, mailer, webRoot: null });
    try {
      await app.ready();
      return structuredClone(app.swagger()) as OpenAPI3;
    } finally {
      await app.close();
    }
  } finally {
    await store.close();
    await database.close();
  }
}

/** The TypeScript declarations of `document` (paths, operations, components). */
async function renderTypes(document: OpenAPI3): Promise<string> {
  // defaultNonNullable off: a request field with a default stays optional, as the server accepts it.
  const ast = await openapiTS(document, { defaultNonNullable: false, silent: true });
  return COMMENT_HEADER.replace(' */', ' * Regenerate with `npm run api:types` (server/scripts/write-openapi.ts).\n */') + astToString(ast);
}

async function main(args: string[]): Promise<number> {
  const check = args.includes('--check');
  const jsonAt = args.indexOf('--json');
  const document = await buildDocument();
  if (jsonAt !== -1) {
    const file = args[jsonAt + 1];
    if (!file) throw new Error('--json needs a file name');
    fs.writeFileSync(file, JSON.stringify(document, null, 2) + '\n');
  }
  const types = await renderTypes(document);
  if (!check) {
    fs.mkdirSync(path.dirname(TYPES_FILE), { recursive: true });
    fs.writeFileSync(TYPES_FILE, types);
    console.log(`Wrote ${path.relative(ROOT, TYPES_FILE)}.`);
    return 0;
  }
  const committed = fs.existsSync(TYPES_FILE) ? fs.readFileSync(TYPES_FILE, 'utf8') : null;
  if (committed === types) {
    console.log(`${path.relative(ROOT, TYPES_FILE)} matches the OpenAPI document.`);
    return 0;
  }
  const fresh = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'bastion-api-types-')), 'schema.d.ts');
  fs.writeFileSync(fresh, types);
  console.error(`${path.relative(ROOT, TYPES_FILE)} is out of date with the server's OpenAPI document.\n` + `Run \`npm run api:types\` and commit the result (fresh copy: ${fresh}; compare with diff -u).`);
  return 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
