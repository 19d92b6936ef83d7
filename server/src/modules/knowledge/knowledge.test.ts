/** Knowledge bases end to end: upload, ingestion, search with citations, agents answering from it, hostile files. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiUser, type ApiClient } from '../../../test/api-client.js';
import { useChatApp } from '../../../test/chat-fixture.js';
import { EICAR, ligaturePdf, multipart } from '../../../test/uploads.js';

const chat = useChatApp({ UPLOAD_MAX_BYTES: '200000', WORKSPACE_STORAGE_QUOTA_BYTES: '300000', OUTBOUND_ALLOW_PRIVATE_KNOWLEDGE: '127.0.0.1:*' });
let pages: http.Server;
let pagesUrl = '';

beforeAll(async () => {
  pages = http.createServer((request, response) => {
    if (request.url === '/to-metadata') return void response.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }).end();
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    response.end('<html><head><title>Travel policy</title><script>alert(1)</script></head><body><h1>Travel</h1><p>Economy class is booked for flights under six hours.</p></body></html>');
  });
  await new Promise<void>((resolve) => pages.listen(0, '127.0.0.1', resolve));
  pagesUrl = `http://127.0.0.1:${(pages.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => pages.close(resolve));
});

const HANDBOOK = [
  '# Handbook',
  '',
  '## Refunds',
  '',
  'Annual plans can be refunded within 30 days of purchase. Monthly plans are not refunded.',
  '',
  '## Security',
  '',
  'Passwords must be at least 12 characters long. Two-factor authentication is required for administrators.',
].join('\n');

async function upload(client: ApiClient, baseId: string, filename: string, content: Buffer | string, type?: string) {
  const { payload, headers } = multipart(filename, content, type);
  return chat.t.app.inject({ method: 'POST', url: `/api/v1/knowledge-bases/${baseId}/documents`, headers: client.headers(headers), payload });
}

async function ready(client: ApiClient, baseId: string, documentId: string) {
  let document: { status: string } = { status: 'pending' };
  await expect
    .poll(
      async () => {
        document = (await client.get(`/knowledge-bases/${baseId}/documents/${documentId}`)).json();
        return ['ready', 'failed', 'quarantined'].includes(document.status);
      },
      { timeout: 15_000, interval: 100 },
    )
    .toBe(true);
  return document as { status: string; chunkCount: number; error: { code: string } | null; title: string | null };
}

async function base(client: ApiClient) {
  const response = await client.post('/knowledge-bases', { name: 'Handbook' });
  expect(response.statusCode, response.body).toBe(201);
  return response.json().id as string;
}

describe('knowledge bases', () => {
  it('ingests an upload, finds it with citations, and lets an agent answer from it', async () => {
    const client = await apiUser(chat.t);
    const baseId = await base(client);
    const uploaded = await upload(client, baseId, 'handbook.md', HANDBOOK, 'text/markdown');
    expect(uploaded.statusCode, uploaded.body).toBe(202);
    expect(uploaded.json()).toMatchObject({ filename: 'handbook.md', kind: 'md', source: 'upload', sizeBytes: Buffer.byteLength(HANDBOOK) });
    const document = await ready(client, baseId, uploaded.json().id);
    expect(document.status).toBe('ready');
    expect(document.chunkCount).toBeGreaterThan(0);

    const search = await client.post(`/knowledge-bases/${baseId}/search`, { query: 'refund annual plan', topK: 3 });
    expect(search.statusCode).toBe(200);
    const [best] = search.json().results;
    expect(best).toMatchObject({ documentId: uploaded.json().id, filename: 'handbook.md', score: 1 });
    expect(best.text).toContain('refunded within 30 days');
    expect(typeof best.position).toBe('number');

    // The built-in extractive agent answers from the base and cites it.
    const agent = (await client.post('/agents', { name: 'Support', knowledgeBaseIds: [baseId] })).json();
    const conversation = (await client.post('/conversations', { agentId: agent.id })).json();
    const answer = (await client.post(`/conversations/${conversation.id}/messages`, { content: 'Can annual plans be refunded?' })).json().answer;
    expect(answer.text).toContain('30 days');
    expect(answer.text).toContain('[1]');
    expect(answer.citations[0]).toMatchObject({ id: '1', text: expect.stringContaining('refunded') });
    expect(answer.citations[0].source).toContain('handbook.md');

    // The same content again is a duplicate.
    const again = await upload(client, baseId, 'copy.md', HANDBOOK, 'text/markdown');
    expect(again.statusCode).toBe(409);

    // Deleting removes the chunks, the original and what search finds.
    const versionBefore = (await client.get(`/knowledge-bases/${baseId}`)).json().version;
    expect((await client.delete(`/knowledge-bases/${baseId}/documents/${uploaded.json().id}`)).statusCode).toBe(200);
    expect((await client.get(`/knowledge-bases/${baseId}`)).json().version).toBeGreaterThan(versionBefore);
    expect((await client.post(`/knowledge-bases/${baseId}/search`, { query: 'refund annual plan' })).json().results).toEqual([]);
    const db = chat.t.database.db;
    expect(await db.selectFrom('chunks').select('id').where('document_id', '=', uploaded.json().id).execute()).toEqual([]);
    // The audit log has the upload and the deletion.
    const audited = await db.selectFrom('audit_entries').select('action').where('target_id', '=', uploaded.json().id).orderBy('seq').execute();
    expect(audited.map((e) => e.action)).toEqual(['knowledge.document.added', 'knowledge.document.deleted']);
    expect(await db.selectFrom('document_blobs').select('document_id').where('document_id', '=', uploaded.json().id).execute()).toEqual([]);
  });

  it('serves repeated searches from the retrieval cache, and a document change invalidates it', async () => {
    const client = await apiUser(chat.t);
    const baseId = await base(client);
    const first = await upload(client, baseId, 'harbour.md', '# Harbour\n\nThe harbour gate closes at nine in the evening.\n', 'text/markdown');
    await ready(client, baseId, first.json().id);
    const search = async () => (await client.post(`/knowledge-bases/${baseId}/search`, { query: 'when does the harbour gate close', topK: 3 })).json().results as { text: string }[];
    expect((await search())[0]!.text).toContain('at nine');

    // Changed behind the cache's back (no version bump): a hit still shows what was found before.
    const db = chat.t.database.db;
    await db.updateTable('chunks').set({ text: 'The harbour gate closes at ten in the evening.' }).where('document_id', '=', first.json().id).execute();
    expect((await search())[0]!.text, 'served from the cache').toContain('at nine');

    // A document change bumps the base's version, which is part of the key: the next search reads afresh.
    const second = await upload(client, baseId, 'tides.md', '# Tides\n\nHigh tide is at noon.\n', 'text/markdown');
    await ready(client, baseId, second.json().id);
    expect((await search())[0]!.text).toContain('at ten');
    await db.updateTable('chunks').set({ text: 'The harbour gate closes at eleven in the evening.' }).where('document_id', '=', first.json().id).execute();
    expect((await client.delete(`/knowledge-bases/${baseId}/documents/${second.json().id}`)).statusCode).toBe(200);
    expect((await search())[0]!.text).toContain('at eleven');
  });

  it('names a PDF by its filename, not its metadata title, and reads words split at ligatures whole', async () => {
    const client = await apiUser(chat.t);
    const baseId = await base(client);
    // As a browser prints a page: the metadata title is the page's name, "policy.html".
    const uploaded = await upload(client, baseId, 'policy.pdf', ligaturePdf('policy.html'), 'application/pdf');
    expect(uploaded.statusCode, uploaded.body).toBe(202);
    expect(uploaded.json()).toMatchObject({ filename: 'policy.pdf', kind: 'pdf' });
    const document = await ready(client, baseId, uploaded.json().id);
    expect(document).toMatchObject({ status: 'ready', filename: 'policy.pdf', title: 'policy.html' }); // the title stays a separate field
    const [hit] = (await client.post(`/knowledge-bases/${baseId}/search`, { query: 'office configuration' })).json().results;
    expect(hit).toMatchObject({ filename: 'policy.pdf' });
    expect(hit.text).toContain('file:///srv/policy.html');
    expect(hit.text).toContain('office rules');
    expect(hit.text).toContain('configuration is final');
    expect(hit.text).not.toMatch(/fi |\uFB01/);
    // Citations name the file too.
    const agent = (await client.post('/agents', { name: 'Policies', knowledgeBaseIds: [baseId] })).json();
    const conversation = (await client.post('/conversations', { agentId: agent.id })).json();
    const answer = (await client.post(`/conversations/${conversation.id}/messages`, { content: 'Where are the office rules?' })).json().answer;
    expect(answer.citations[0].source).toMatch(/^policy\.pdf\b/);
    expect(answer.citations[0].source).not.toContain('policy.html');
  });

  it('tells clients the upload limit and accepted types before they send (GET /auth/options)', async () => {
    const options = (await chat.t.app.inject({ method: 'GET', url: '/api/v1/auth/options' })).json();
    expect(options.uploads).toMatchObject({ maxBytes: 200_000, maxBytesSetting: 'UPLOAD_MAX_BYTES' });
    const pdf = options.uploads.types.find((type: { kind: string }) => type.kind === 'pdf');
    expect(pdf).toEqual({ kind: 'pdf', extensions: ['pdf'], mimeTypes: expect.arrayContaining(['application/pdf']) });
    const extensions = options.uploads.types.flatMap((type: { extensions: string[] }) => type.extensions);
    expect(extensions).toEqual(expect.arrayContaining(['txt', 'md', 'html', 'pdf', 'docx', 'csv', 'json']));
    expect(extensions).not.toContain('exe');
  });

  it('stores originals encrypted and HTML only as text [ASVS 3.2.1, 5.3.1]', async () => {
    const client = await apiUser(chat.t);
    const baseId = await base(client);
    const html = '<html><head><title>Page</title><script>document.cookie</script></head><body><h1>Hello</h1><p>Visible paragraph about llamas.</p></body></html>';
    const uploaded = await upload(client, baseId, 'page.html', html, 'text/html');
    expect(uploaded.statusCode, uploaded.body).toBe(202);
    expect((await ready(client, baseId, uploaded.json().id)).status).toBe('ready');
    const [hit] = (await client.post(`/knowledge-bases/${baseId}/search`, { query: 'llamas' })).json().results;
    expect(hit.text).toContain('Visible paragraph about llamas');
    expect(hit.text).not.toContain('document.cookie');
    expect(hit.text).not.toContain('<');
    const blob = await chat.t.database.db.selectFrom('document_blobs').select('data').where('document_id', '=', uploaded.json().id).executeTakeFirstOrThrow();
    expect(Buffer.from(blob.data).toString('latin1')).not.toContain('llamas');
  });

  it('refuses hostile files with clear 4xx codes, writing nothing [ASVS 5.2.1, 5.2.2, 5.3.2, 5.4.3]', async () => {
    const client = await apiUser(chat.t);
    const baseId = await base(client);
    const refusals: [string, Buffer | string, string | undefined, number, string][] = [
      ['eicar.txt', EICAR, 'text/plain', 422, 'malware_detected'],
      ['report.pdf', Buffer.concat([Buffer.from('MZ\x90\x00\x03\x00\x00\x00', 'latin1'), Buffer.alloc(200, 1)]), 'application/pdf', 415, 'unsupported_file_type'],
      ['script.txt', '#!/bin/sh\nrm -rf /\n', 'text/plain', 422, 'malware_detected'],
      ['empty.txt', '', 'text/plain', 422, 'invalid_file'],
      ['big.txt', 'a'.repeat(200_001), 'text/plain', 413, 'payload_too_large'],
      ['../../etc/passwd.txt', 'hello', 'text/plain', 400, 'invalid_filename'],
      [`${'x'.repeat(300)}.txt`, 'hello', 'text/plain', 400, 'invalid_filename'],
      ['data.json', '{not json', 'application/json', 415, 'unsupported_file_type'],
      ['notes.exe', 'hello', 'application/octet-stream', 415, 'unsupported_file_type'],
    ];
    for (const [filename, content, type, status, code] of refusals) {
      const response = await upload(client, baseId, filename, content, type);
      expect(response.statusCode, `${filename.slice(0, 30)}: ${response.body}`).toBe(status);
      expect(response.json().error.code, filename.slice(0, 30)).toBe(code);
      // The limit in the units people read, with the setting that changes it.
      if (filename === 'big.txt') expect(response.json().error.message).toBe('The file is larger than the 195 KB allowed (UPLOAD_MAX_BYTES).');
    }
    expect((await client.get(`/knowledge-bases/${baseId}/documents`)).json().documents).toEqual([]);
    const events = await chat.t.database.db.selectFrom('security_events').select(['type', 'details']).where('type', '=', 'knowledge.malware_refused').execute();
    expect(events.length).toBeGreaterThanOrEqual(2);
    // Not multipart and not {url}: a clear 400; other content types: 415.
    expect((await client.post(`/knowledge-bases/${baseId}/documents`, { file: 'x' })).statusCode).toBe(400);
  });

  it('fetches URLs through the SSRF guard and refuses private targets and redirects to them [ASVS 1.3.6, 15.3.2]', async () => {
    const client = await apiUser(chat.t);
    const baseId = await base(client);
    const fetched = await client.post(`/knowledge-bases/${baseId}/documents`, { url: `${pagesUrl}/travel` });
    expect(fetched.statusCode, fetched.body).toBe(202);
    expect(fetched.json()).toMatchObject({ source: 'url', kind: 'html', filename: 'travel.html' });
    expect((await ready(client, baseId, fetched.json().id)).title).toBe('Travel policy');
    for (const url of ['http://169.254.169.254/latest/meta-data/', `${pagesUrl}/to-metadata`, 'http://10.0.0.1/', 'file:///etc/passwd']) {
      const refused = await client.post(`/knowledge-bases/${baseId}/documents`, { url });
      expect(refused.statusCode, url).toBe(400);
      expect(refused.json().error.code).toBe('validation_failed');
    }
  });

  it('enforces the workspace quota [ASVS 5.2.1]', async () => {
    const client = await apiUser(chat.t);
    const baseId = await base(client);
    const first = await upload(client, baseId, 'a.txt', `alpha ${'a '.repeat(80_000)}`, 'text/plain');
    expect(first.statusCode).toBe(202);
    await ready(client, baseId, first.json().id);
    const second = await upload(client, baseId, 'b.txt', `beta ${'b '.repeat(80_000)}`, 'text/plain');
    expect(second.statusCode).toBe(413);
    expect(second.json().error.code).toBe('quota_exceeded');
    expect(second.json().error.message).toContain('(293 KB, WORKSPACE_STORAGE_QUOTA_BYTES)');
  });

  it('keeps bases, documents and search inside the workspace', async () => {
    const owner = await apiUser(chat.t);
    const baseId = await base(owner);
    const doc = await upload(owner, baseId, 'secret.md', '# Secret\n\nThe launch code is pineapple.', 'text/markdown');
    await ready(owner, baseId, doc.json().id);
    const stranger = await apiUser(chat.t);
    for (const response of [
      await stranger.get(`/knowledge-bases/${baseId}`),
      await stranger.patch(`/knowledge-bases/${baseId}`, { name: 'mine' }),
      await stranger.get(`/knowledge-bases/${baseId}/documents`),
      await stranger.get(`/knowledge-bases/${baseId}/documents/${doc.json().id}`),
      await stranger.delete(`/knowledge-bases/${baseId}/documents/${doc.json().id}`),
      await stranger.post(`/knowledge-bases/${baseId}/search`, { query: 'launch code' }),
      await upload(stranger, baseId, 'x.txt', 'x', 'text/plain'),
      await stranger.delete(`/knowledge-bases/${baseId}`),
    ]) {
      expect(response.statusCode).toBe(404);
    }
    expect((await stranger.get('/knowledge-bases')).json().knowledgeBases).toEqual([]);
    // An agent cannot be pointed at another workspace's base.
    const refused = await stranger.post('/agents', { name: 'Spy', knowledgeBaseIds: [baseId] });
    expect(refused.statusCode).toBe(400);
    expect((await owner.post(`/knowledge-bases/${baseId}/search`, { query: 'launch code' })).json().results).toHaveLength(1);
  });
});
