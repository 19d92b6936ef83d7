/**
 * Several files dropped at once, on the embedded default with the overload guard on (as in
 * production): the web app sends them two at a time and retries a shed upload (503) after
 * its Retry-After — every file arrives. Storing a few MB on the embedded database stalls
 * the event loop for most of a second, so the guard may shed the uploads that waited
 * meanwhile; that is its job, and its answer must say when to come back.
 */
import { describe, expect, it } from 'vitest';
import { apiUser } from '../../../test/api-client.js';
import { useChatApp } from '../../../test/chat-fixture.js';
import { multipart } from '../../../test/uploads.js';

// The shipped default threshold (the harness turns the guard off for other tests).
const chat = useChatApp({ OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '1000' });

/** The web app's policy (web/src/routes/(app)/knowledge/upload-queue.ts): 2 at a time, 5 attempts, Retry-After honoured up to 30 s. */
const CONCURRENCY = 2;
const MAX_ATTEMPTS = 5;
const MAX_WAIT_MS = 30_000;

/** A setup call, retried while the guard sheds it (other test files load this machine too). */
async function unshed<R extends { statusCode: number; headers: Record<string, unknown> }>(call: () => Promise<R>): Promise<R> {
  for (let attempt = 1; ; attempt++) {
    const response = await call();
    if (response.statusCode !== 503 || attempt === 10) return response;
    await new Promise((resolve) => setTimeout(resolve, Number(response.headers['retry-after'] ?? 1) * 1000));
  }
}

describe('uploads under load', () => {
  it('accepts five ~3 MB files sent two at a time, shedding only with 503 + Retry-After', async () => {
    const client = await apiUser(chat.t);
    const baseId = (await unshed(() => client.post('/knowledge-bases', { name: 'Dropped' }))).json().id as string;
    const files = Array.from({ length: 5 }, (_, f) => ({
      name: `policy-${f}.md`,
      body: Array.from({ length: 40_000 }, (_, line) => `Policy ${f}, clause ${line}: employees keep receipts for every expense over ${line % 97} euros.`).join('\n'),
    }));
    const outcomes: { name: string; status: number; attempts: number }[] = [];
    const shed: { status: number; code: string; retryAfter: string | null }[] = [];
    let next = 0;
    const sender = async () => {
      while (next < files.length) {
        const file = files[next++]!;
        for (let attempt = 1; ; attempt++) {
          const { payload, headers } = multipart(file.name, file.body, 'text/markdown');
          const response = await fetch(`${chat.baseUrl}/api/v1/knowledge-bases/${baseId}/documents`, { method: 'POST', headers: client.headers(headers), body: payload });
          const body = (await response.json()) as { error?: { code: string } };
          if (response.status !== 503 && response.status !== 429) {
            outcomes.push({ name: file.name, status: response.status, attempts: attempt });
            break;
          }
          shed.push({ status: response.status, code: body.error?.code ?? '', retryAfter: response.headers.get('retry-after') });
          if (attempt === MAX_ATTEMPTS) {
            outcomes.push({ name: file.name, status: response.status, attempts: attempt });
            break;
          }
          await new Promise((resolve) => setTimeout(resolve, Math.min(Number(response.headers.get('retry-after') ?? 2) * 1000, MAX_WAIT_MS)));
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, sender));

    expect(
      outcomes.map((o) => o.status),
      JSON.stringify({ outcomes, shed }),
    ).toEqual([202, 202, 202, 202, 202]);
    // Every refusal said when to come back, in whole seconds.
    for (const refusal of shed) expect(refusal).toMatchObject({ status: 503, code: 'service_unavailable', retryAfter: expect.stringMatching(/^[1-9]\d*$/) });
    const documents = (await unshed(() => client.get(`/knowledge-bases/${baseId}/documents`))).json().documents as { filename: string }[];
    expect(documents.map((d) => d.filename).sort()).toEqual(files.map((f) => f.name));
  }, 120_000);
});
