/**
 * Agent webhooks. Inbound: `POST /api/v1/hooks/agents/:id`, signed with the agent's
 * webhook secret (HMAC, 5-minute window, each signature once), starts a run as the
 * agent's creator and answers 202 at once. Outbound: when the run ends, its result is
 * POSTed to the agent's `callbackUrl`, signed the same way with the current secret,
 * through the SSRF-guarded client.
 */
import type { Logger } from 'pino';
import { AppError } from '../../errors.js';
import { verifyRequestSignature } from '../../http/request-signature.js';
import type { Clock } from '../../platform/clock.js';
import type { Db } from '../../platform/db/database.js';
import type { OutboundHttp } from '../../platform/net/outbound.js';
import type { Store } from '../../platform/store/store.js';
import { SIGNATURE_HEADER, signRequest } from '../../sdk/sign.js';
import type { AgentService } from '../agents/service.js';
import type { ChatService, Message } from '../chat/service.js';
import type { SecurityEventSink } from '../security-events/service.js';
import type { SigningSecretService } from '../signing-secrets/service.js';
import type { WorkspaceContext, WorkspaceService } from '../workspaces/service.js';
import type { EventOrigin } from '../security-events/origin.js';

const CALLBACK_TIMEOUT_MS = 10_000;

export interface RunResult {
  event: 'agent.run.completed' | 'agent.run.failed';
  agentId: string;
  conversationId: string;
  answer?: Message;
  error?: { code: string; message: string };
}

export interface WebhookDeps {
  db: Db;
  store: Store;
  clock: Clock;
  logger: Logger;
  secrets: SigningSecretService;
  agents: AgentService;
  workspaces: WorkspaceService;
  chat: ChatService;
  outbound: OutboundHttp<'webhooks'>;
  /** Signature failures become security events (sampled per agent and address). */
  events?: SecurityEventSink;
}

const owner = (agentId: string) => ({ type: 'agent_webhook', id: agentId });

export class WebhookService {
  constructor(private readonly deps: WebhookDeps) {}

  /** Creates or rotates the agent's webhook secret; the previous one stays valid for `overlapHours`. */
  async rotateSecret(context: WorkspaceContext, agentId: string, overlapHours: number): Promise<{ secret: string; hint: string }> {
    this.deps.workspaces.require(context, 'agents.write');
    await this.deps.agents.get(context, agentId);
    return this.deps.secrets.rotate(owner(agentId), overlapHours * 3_600_000);
  }

  async disable(context: WorkspaceContext, agentId: string): Promise<void> {
    this.deps.workspaces.require(context, 'agents.write');
    await this.deps.agents.get(context, agentId);
    await this.deps.secrets.revoke(owner(agentId));
  }

  /**
   * Verifies the signature, then starts the run in the background. Unknown agents and
   * agents without a secret answer like a bad signature: nothing to probe.
   */
  async receive(agentId: string, signed: { method: string; url: string; body: string; header: string | undefined }, input: string, origin: EventOrigin = {}): Promise<{ conversationId: string }> {
    const agent = await this.deps.agents.webhookOwner(agentId);
    const secrets = agent ? await this.deps.secrets.validSecrets(owner(agentId)) : [];
    try {
      if (secrets.length === 0) throw new AppError('unauthenticated', 'Invalid request signature: no such webhook.');
      await verifyRequestSignature(signed, secrets, this.deps.store, this.deps.clock);
    } catch (error) {
      if (error instanceof AppError && error.code === 'unauthenticated') {
        const reason = error.message.replace(/^Invalid request signature: /, '').replace(/\.$/, '');
        await this.deps.events?.recordSampled({ ...origin, type: 'webhook.signature_failed', details: { agentId, reason } }, `${agentId}:${reason}`);
      }
      throw error;
    }
    if (!agent!.createdBy) throw new AppError('conflict', 'The agent’s creator no longer exists; rotate the webhook secret from an active account.');
    let context: WorkspaceContext;
    try {
      context = await this.deps.workspaces.resolve(agent!.createdBy, agent!.workspaceId, 'chat.use');
    } catch {
      throw new AppError('conflict', 'The agent’s creator is no longer a member of its workspace.');
    }
    const conversation = await this.deps.chat.createConversation(context, agentId, 'webhook');
    void this.run(context, agentId, conversation.id, input);
    return { conversationId: conversation.id };
  }

  private async run(context: WorkspaceContext, agentId: string, conversationId: string, input: string): Promise<void> {
    let result: RunResult;
    try {
      const { answer, error } = await this.deps.chat.send(context, conversationId, input);
      result = { event: answer.status === 'failed' ? 'agent.run.failed' : 'agent.run.completed', agentId, conversationId, answer, ...(error ? { error } : {}) };
    } catch (error) {
      const known = error instanceof AppError ? { code: error.code, message: error.message } : { code: 'internal_error', message: 'The run failed.' };
      if (!(error instanceof AppError)) this.deps.logger.error({ err: error, agentId, conversationId }, 'webhook run failed');
      result = { event: 'agent.run.failed', agentId, conversationId, error: known };
    }
    await this.deliver(context, result).catch((error: unknown) => this.deps.logger.warn({ err: error, agentId, conversationId }, 'webhook callback failed'));
  }

  /** POSTs the result to the agent's callback URL, signed with its current secret. */
  private async deliver(context: WorkspaceContext, result: RunResult): Promise<void> {
    const agent = await this.deps.agents.getForRun(context.workspaceId, result.agentId);
    const url = agent.config.callbackUrl;
    const secret = await this.deps.secrets.currentSecret(owner(result.agentId));
    if (!url || !secret) return;
    const body = JSON.stringify({
      ...result,
      ...(result.answer ? { answer: { id: result.answer.id, text: result.answer.text, status: result.answer.status, stopReason: result.answer.stopReason, citations: result.answer.citations } } : {}),
    });
    const target = new URL(url);
    const signature = signRequest(secret, { method: 'POST', url: `${target.pathname}${target.search}`, body }, this.deps.clock.now());
    const response = await this.deps.outbound.fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: signature, 'user-agent': 'Bastion-Webhook/1' },
      body,
      timeoutMs: CALLBACK_TIMEOUT_MS,
      maxRetries: 2,
    });
    await response.body?.cancel();
    if (!response.ok) throw new Error(`callback answered HTTP ${response.status}`);
  }
}
