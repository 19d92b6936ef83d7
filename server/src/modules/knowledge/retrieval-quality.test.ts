/**
 * Retrieval quality on a small fixture corpus with known answers: for each question, is
 * the document that answers it among the top 5 results (recall@5)? Full-text search is
 * the baseline that works everywhere; this keeps it honest when ranking or chunking change.
 */
import { describe, expect, it } from 'vitest';
import { apiUser } from '../../../test/api-client.js';
import { useChatApp } from '../../../test/chat-fixture.js';
import { multipart } from '../../../test/uploads.js';

const chat = useChatApp();

const CORPUS: Record<string, string> = {
  'refunds.md': '# Refunds\n\nAnnual subscriptions can be refunded within 30 days of purchase. Monthly subscriptions are not refundable, but you can cancel at any time.',
  'passwords.md': '# Password policy\n\nPasswords must have at least 12 characters. Reusing one of your last five passwords is not allowed.',
  'vpn.md': '# Remote access\n\nConnect to the office network through the VPN client. Multi-factor authentication is required for every VPN session.',
  'travel.md': '# Travel\n\nEconomy class is booked for flights under six hours. Hotel costs are reimbursed up to the city limit listed in the travel portal.',
  'holidays.md': '# Leave\n\nEmployees get 25 days of paid vacation per year. Unused vacation days expire at the end of March of the following year.',
  'expenses.md': '# Expenses\n\nSubmit receipts within 60 days. Meals with clients are reimbursed when the attendees are listed on the expense report.',
  'backup.md': '# Backups\n\nDatabases are backed up every night and kept for 35 days. Restores are tested once per quarter.',
  'onboarding.md': '# Onboarding\n\nNew hires receive their laptop on the first day. The buddy program pairs each newcomer with a colleague for three months.',
  'incidents.md': '# Incident response\n\nSeverity one incidents page the on-call engineer immediately. A postmortem is written within five working days.',
  'parking.md': '# Parking\n\nThe garage has 40 spaces reserved for electric cars. Parking permits are renewed every January.',
  'security.md': '# Laptop security\n\nFull-disk encryption must stay enabled. Lost or stolen laptops are reported to the service desk within one hour.',
  'coffee.md': '# Kitchen\n\nThe espresso machine is descaled every Friday. Oat milk is ordered weekly by the office manager.',
};

const QUESTIONS: [string, string][] = [
  ['can I get my money back for a yearly plan', 'refunds.md'],
  ['how long must a password be', 'passwords.md'],
  ['is MFA needed for the VPN', 'vpn.md'],
  ['which class for a four hour flight', 'travel.md'],
  ['how many vacation days do I have', 'holidays.md'],
  ['deadline for submitting receipts', 'expenses.md'],
  ['how long are database backups kept', 'backup.md'],
  ['when do new hires get a laptop', 'onboarding.md'],
  ['when is the postmortem written after an incident', 'incidents.md'],
  ['parking spaces for electric cars', 'parking.md'],
  ['what to do if my laptop is stolen', 'security.md'],
  ['when is the espresso machine descaled', 'coffee.md'],
];

describe('retrieval quality', () => {
  it('finds the answering document in the top 5 for the known questions (recall@5)', async () => {
    const client = await apiUser(chat.t);
    const baseId = (await client.post('/knowledge-bases', { name: 'Policies' })).json().id;
    const ids = new Map<string, string>();
    for (const [name, text] of Object.entries(CORPUS)) {
      const { payload, headers } = multipart(name, text, 'text/markdown');
      const response = await chat.t.app.inject({ method: 'POST', url: `/api/v1/knowledge-bases/${baseId}/documents`, headers: client.headers(headers), payload });
      expect(response.statusCode, response.body).toBe(202);
      ids.set(response.json().id, name);
    }
    await expect.poll(async () => (await client.get(`/knowledge-bases/${baseId}/documents`)).json().documents.every((d: { status: string }) => d.status === 'ready'), { timeout: 15_000, interval: 100 }).toBe(true);

    let found = 0;
    const misses: string[] = [];
    for (const [question, expected] of QUESTIONS) {
      const results = (await client.post(`/knowledge-bases/${baseId}/search`, { query: question, topK: 5 })).json().results as { documentId: string }[];
      if (results.some((r) => ids.get(r.documentId) === expected)) found++;
      else misses.push(question);
    }
    const recall = found / QUESTIONS.length;
    console.info(`retrieval recall@5 (full-text): ${recall.toFixed(2)} (${found}/${QUESTIONS.length})${misses.length ? `; missed: ${misses.join(' | ')}` : ''}`);
    expect(recall).toBeGreaterThanOrEqual(0.75);
  });
});
