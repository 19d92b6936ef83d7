/**
 * The privacy plugin: policies and consent (the gate itself runs in accounts, right after
 * the caller is known), data export, erasure and retention. Privacy is the one part
 * allowed to read every module's tables (docs/architecture.md).
 */
import fp from 'fastify-plugin';
import { API_PREFIX } from '../http/api-versions.js';
import type { App } from '../http/app-type.js';
import { createPrivacy } from '../modules/privacy/module.js';
import type { Db } from '../platform/db/database.js';

export const privacy = fp(
  async (app: App) => {
    const { config, encryptor } = app.core;
    const { authDeps, policies, audit } = app.accounts;
    // Erasure pseudonymises the user's audit entries (and records user.erased) in its own transaction.
    const pseudonymiseActor = (trx: Db, userId: string, pseudonym: string) => audit.eraseUser(trx, userId, pseudonym);
    const { workspaces } = app.workspaces;
    await createPrivacy({ ...authDeps, config, encryptor, queue: app.knowledge.queue, policies, pseudonymiseActor, membershipsChanged: () => workspaces.forgetMemberships() }).register(app, API_PREFIX);
  },
  { name: 'bastion-privacy', fastify: '5.x', dependencies: ['bastion-core', 'bastion-accounts', 'bastion-workspaces', 'bastion-knowledge'] },
);
