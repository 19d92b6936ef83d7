/**
 * The embedded default (PGlite and the in-memory store in one `bastion serve`) with
 * DATA_DIR on a small tmpfs, for the full-disk fault. Its account is made before it starts:
 * the embedded database's files belong to one process at a time.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';

import { ApiKeyService } from '../../src/modules/api-keys/service.js';
import { SCOPES } from '../../src/principal.js';
import { systemClock } from '../../src/platform/clock.js';
import { openDatabase } from '../../src/platform/db/database.js';
import { migrate } from '../../src/platform/db/migrator.js';
import { MemoryStore } from '../../src/platform/store/memory-store.js';
import { statfsReader } from '../../src/platform/storage/free-space.js';
import { createUser } from '../accounts.js';
import { silentLogger, tempDir, testConfig, waitFor } from '../harness.js';
import { Child } from './cluster.js';
import { Client } from './load.js';

export const MiB = 1024 * 1024;
const PORT = 28103; // beside cluster.ts PORTS, below the ephemeral range
const MIN_FREE = 48 * MiB;

export interface Embedded {
  url: string;
  client: Client;
  /** Writes a ballast file so that only `leaveFreeBytes` stay free; resolves to its removal. */
  fill(leaveFreeBytes: number): Promise<() => Promise<void>>;
  /** Answers and documents not finished, read through the API (the database is the process's). */
  unfinished(documentIds: string[], since: Date): Promise<{ answers: number; documents: number }>;
  stop(): Promise<void>;
}

export async function startEmbedded(providerUrl: string): Promise<Embedded> {
  const dataDir = await tempDir('faults-tmpfs');
  const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=200m', 'tmpfs', dataDir], { encoding: 'utf8' });
  if (mount.status !== 0) throw new Error(`mount: ${mount.stderr}`);
  const env = { DATA_DIR: dataDir, STORAGE_MIN_FREE_BYTES: String(MIN_FREE) };

  const database = await openDatabase(testConfig(env), silentLogger);
  let key: string;
  try {
    await migrate(database.db);
    const userId = await createUser(database, { email: 'disk@example.org' });
    ({ key } = await new ApiKeyService(database.db, systemClock, new MemoryStore({ maxKeys: 100, sweepIntervalMs: 0 })).create(userId, { name: 'faults', scopes: [...SCOPES] }));
  } finally {
    await database.close();
  }

  const child = new Child('embedded', ['serve'], { ...env, PORT: String(PORT), LOG_LEVEL: 'warn', REQUIRE_MFA: 'none', RATE_LIMIT_SCALE: '1000', OUTBOUND_ALLOW_PRIVATE_PROVIDERS: '127.0.0.1:*' });
  child.start();
  const url = `http://127.0.0.1:${PORT}`;
  const ready = await waitFor(async () => (await fetch(`${url}/readyz`).catch(() => undefined))?.status === 200, 60_000, 200);
  if (!ready) throw new Error(`embedded serve not ready:\n${child.output}`);

  const post = async (route: string, body: object) => {
    const response = await fetch(`${url}/api/v1${route}`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const json = (await response.json()) as { id: string };
    if (response.status !== 201) throw new Error(`${route}: ${response.status} ${JSON.stringify(json)}`);
    return json.id;
  };
  const connectionId = await post('/provider-connections', { name: 'fake', kind: 'openai', baseUrl: `${providerUrl}/v1`, apiKey: 'sk-test-provider-key-4f9a2c7e1b', skipTest: true });
  const agentId = await post('/agents', { name: 'Disk agent', providerConnectionId: connectionId, model: 'fake-model-1', systemPrompt: 'Answer briefly.' });
  const baseId = await post('/knowledge-bases', { name: 'Disk notes' });
  const client = new Client(key, agentId, baseId);
  const get = async (route: string) => (await fetch(`${url}/api/v1${route}`, { headers: { authorization: `Bearer ${key}` } })).json() as Promise<Record<string, unknown>>;

  return {
    url,
    client,
    async fill(leaveFreeBytes) {
      const free = await statfsReader(dataDir)();
      const file = path.join(dataDir, `ballast-${Date.now()}`);
      const handle = await fs.open(file, 'w');
      const block = Buffer.alloc(MiB, 1);
      for (let left = free - leaveFreeBytes; left > 0; left -= block.length) await handle.write(block, 0, Math.min(block.length, left));
      await handle.close();
      return () => fs.rm(file, { force: true });
    },
    async unfinished(documentIds, since) {
      let documents = 0;
      for (const id of documentIds) {
        const done = await waitFor(async () => ['ready', 'failed'].includes(String((await get(`/knowledge-bases/${baseId}/documents/${id}`)).status)), 60_000, 250);
        if (!done) documents++;
      }
      // Answers: every conversation started since `since` has no answer left streaming.
      const conversations = ((await get('/conversations?limit=100')).conversations ?? []) as { id: string; updatedAt: string }[];
      let answers = 0;
      for (const conversation of conversations.filter((c) => new Date(c.updatedAt) >= since)) {
        const settled = await waitFor(async () => !((await get(`/conversations/${conversation.id}/messages`)).messages as { status: string }[]).some((m) => m.status === 'streaming'), 60_000, 250);
        if (!settled) answers++;
      }

      return { answers, documents };
    },
    async stop() {
      await child.stop('SIGKILL');
      spawnSync('umount', ['-l', dataDir]);
      await fs.rm(dataDir, { recursive: true, force: true });
    },
  };
}
