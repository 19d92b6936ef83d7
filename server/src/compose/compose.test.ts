import Fastify from 'fastify';
import fp from 'fastify-plugin';
import { describe, expect, it } from 'vitest';
import { accounts } from './accounts.js';
import { agentsChat } from './agents-chat.js';
import { knowledge } from './knowledge.js';

/** A stand-in registered under a compose plugin's name, so only the dependency named in a test is missing. */
const standIn = (name: string) => fp(async () => undefined, { name });

// The compose plugins declare what they stand on, so a wrong order fails at start
// instead of running with a hook (authentication, the caller, the workspace) missing.
describe('compose plugins', () => {
  it.each([
    ['accounts', accounts, [], 'bastion-core'],
    ['knowledge', knowledge, ['bastion-core', 'bastion-accounts', 'bastion-workspaces'], 'bastion-providers'],
    ['agents-chat', agentsChat, ['bastion-core', 'bastion-accounts', 'bastion-workspaces', 'bastion-providers'], 'bastion-knowledge'],
  ] as const)('refuse to start %s before its dependencies', async (_name, plugin, present, missing) => {
    const app = Fastify();
    for (const name of present) await app.register(standIn(name));
    await expect(app.register(plugin as never).ready()).rejects.toThrow(`The dependency '${missing}'`);
    await app.close();
  });
});
