/**
 * Uploads with ClamAV (a real clamd on a test signature database): infected files are
 * refused before parsing and reported; while clamd is down, documents wait in
 * `scanning` (fail closed) and are processed once it is back.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { apiUser, type ApiClient } from '../../../test/api-client.js';
import { useChatApp } from '../../../test/chat-fixture.js';
import { MARKER, startClamd, TEST_SIGNATURES, type StartedClamd } from '../../../test/clamav/clamd.js';
import { freePort } from '../../../test/harness.js';
import { multipart } from '../../../test/uploads.js';
import { ClamdScanner } from '../../platform/scan/clamd.js';

let clamd: StartedClamd | undefined;
// The app reads CLAMD_URL at start; clamd itself starts in the test (the app copes with it being down).
const port = await freePort();
const chat = useChatApp({ CLAMD_URL: `tcp://127.0.0.1:${port}`, INGEST_ATTEMPTS: '20' });

afterAll(async () => {
  await clamd?.stop();
});

async function upload(client: ApiClient, baseId: string, filename: string, content: string) {
  const { payload, headers } = multipart(filename, content, 'text/plain');
  return chat.t.app.inject({ method: 'POST', url: `/api/v1/knowledge-bases/${baseId}/documents`, headers: client.headers(headers), payload });
}

describe('uploads with ClamAV', () => {
  it('holds documents in scanning while clamd is down, then refuses infected files and processes clean ones [ASVS 5.4.3]', async () => {
    const client = await apiUser(chat.t);
    const baseId = (await client.post('/knowledge-bases', { name: 'Scanned' })).json().id;

    // clamd not running yet: accepted but not parsed, waiting in `scanning`.
    const waiting = await upload(client, baseId, 'early.txt', 'Early document about otters.');
    expect(waiting.statusCode, waiting.body).toBe(202);
    expect(waiting.json().status).toBe('scanning');
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect((await client.get(`/knowledge-bases/${baseId}/documents/${waiting.json().id}`)).json().status).toBe('scanning');

    const started = await startClamd({ port });
    expect(started, 'clamd must be installed (.ci/run installs clamav-daemon)').not.toBeNull();
    clamd = started!;
    expect(await new ClamdScanner({ url: `tcp://127.0.0.1:${port}` }).ping()).toBe(true);

    // The held document goes through once clamd answers (the job retries with backoff).
    await expect.poll(async () => (await client.get(`/knowledge-bases/${baseId}/documents/${waiting.json().id}`)).json().status, { timeout: 20_000, interval: 250 }).toBe('ready');

    const infected = await upload(client, baseId, 'notes.txt', `Meeting notes ${MARKER} end`);
    expect(infected.statusCode).toBe(422);
    expect(infected.json().error).toMatchObject({ code: 'malware_detected', details: [{ path: 'file', message: `clamav:${TEST_SIGNATURES.marker}` }] });
    const events = await chat.t.database.db.selectFrom('security_events').select('details').where('type', '=', 'knowledge.malware_refused').execute();
    expect(JSON.stringify(events)).toContain(TEST_SIGNATURES.marker);
    expect((await client.get(`/knowledge-bases/${baseId}/documents`)).json().documents).toHaveLength(1);
  }, 60_000);
});
