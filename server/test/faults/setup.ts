/**
 * The suite's accounts and resources, made the way an operator and a user would: an
 * administrator with `bastion users create-admin`, then over the API a browser sign-in, an
 * API key, a shared workspace and in it a provider connection (the fake provider), an
 * agent and a knowledge base.
 */
import { randomBytes } from 'node:crypto';
import { SCOPES } from '../../src/principal.js';
import type { Cluster } from './cluster.js';
import { Client } from './load.js';

const EMAIL = 'faults-admin@example.org';

export async function setUpAccounts(cluster: Cluster, providerUrl: string): Promise<Client> {
  const base = `${cluster.urls[0]}/api/v1`;
  const password = `${randomBytes(12).toString('base64url')} violet tractor ${randomBytes(6).toString('hex')}`;
  const created = cluster.cli(['users', 'create-admin', '--email', EMAIL, '--name', 'Fault Admin', '--password-stdin'], password);
  if (created.status !== 0) throw new Error(`bastion users create-admin: ${created.status} ${created.output}`);

  const login = await fetch(`${base}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: EMAIL, password }) });
  if (login.status !== 200) throw new Error(`sign-in: ${login.status} ${await login.text()}`);
  const cookie = login.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ');
  const csrf = ((await (await fetch(`${base}/auth/csrf`, { headers: { cookie } })).json()) as { token: string }).token;
  const keyResponse = await fetch(`${base}/api-keys`, { method: 'POST', headers: { cookie, 'x-csrf-token': csrf, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'faults', scopes: [...SCOPES] }) });
  if (keyResponse.status !== 201) throw new Error(`API key: ${keyResponse.status} ${await keyResponse.text()}`);
  const { key } = (await keyResponse.json()) as { key: string };

  const post = async (path: string, body: object, workspaceId?: string) => {
    const response = await fetch(`${base}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...(workspaceId ? { 'x-workspace-id': workspaceId } : {}) },
      body: JSON.stringify(body),
    });
    const json = (await response.json()) as { id: string };
    if (response.status !== 201) throw new Error(`${path}: ${response.status} ${JSON.stringify(json)}`);
    return json.id;
  };
  const workspaceId = await post('/workspaces', { name: 'Fault team' });
  const connectionId = await post('/provider-connections', { name: 'fake', kind: 'openai', baseUrl: `${providerUrl}/v1`, apiKey: 'sk-test-provider-key-4f9a2c7e1b', skipTest: true }, workspaceId);
  const agentId = await post('/agents', { name: 'Fault agent', providerConnectionId: connectionId, model: 'fake-model-1', systemPrompt: 'Answer briefly.' }, workspaceId);
  const baseId = await post('/knowledge-bases', { name: 'Fault notes' }, workspaceId);
  return new Client(key, agentId, baseId, workspaceId);
}
