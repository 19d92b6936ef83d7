/**
 * The agents and chat plugin: versioned agent configurations, conversations and the agent
 * loop (tools on the tools outbound client, knowledge through the retrieval), the LLM
 * response cache, webhooks that trigger agents and deliver their results, and the
 * OpenAI-compatible API (/v1) that runs agents as models.
 */
import fp from 'fastify-plugin';
import { OPENAI_PREFIX } from '../http/api-paths.js';
import { API_PREFIX } from '../http/api-versions.js';
import type { App } from '../http/app-type.js';
import { agentRoutes } from '../modules/agents/routes.js';
import { AgentService } from '../modules/agents/service.js';
import { Cancellations } from '../modules/chat/cancellation.js';
import { ConversationAttachments } from '../modules/chat/attachments.js';
import { attachmentRoutes } from '../modules/chat/attachments-routes.js';
import { AgentCompletions } from '../modules/chat/completion.js';
import { ConversationExporter } from '../modules/chat/export.js';
import { MemberUsageService } from '../modules/chat/member-usage.js';
import { memberUsageRoutes } from '../modules/chat/member-usage-routes.js';
import { ModelChoice } from '../modules/chat/model-choice.js';
import { modelChoiceRoutes } from '../modules/chat/model-choice-routes.js';
import { AnswerLeases } from '../modules/chat/leases.js';
import { ConversationOrganiser } from '../modules/chat/organise.js';
import { organiseRoutes } from '../modules/chat/organise-routes.js';
import { ConversationSharing } from '../modules/chat/share.js';
import { shareRoutes } from '../modules/chat/share-routes.js';
import { DeletedConversationPurge } from '../modules/chat/purge.js';
import { ConversationSearch } from '../modules/chat/search.js';
import { ConversationSearchIndexer } from '../modules/chat/search-index.js';
import { searchRoutes } from '../modules/chat/search-routes.js';
import type { CachedTurn } from '../modules/chat/response-cache.js';
import { chatRoutes } from '../modules/chat/routes.js';
import { ChatService } from '../modules/chat/service.js';
import { openAiRoutes } from '../modules/openai-compat/routes.js';
import { OpenAiCompatService } from '../modules/openai-compat/service.js';
import { SigningSecretService } from '../modules/signing-secrets/service.js';
import { webhookRoutes } from '../modules/webhooks/routes.js';
import { WebhookService } from '../modules/webhooks/service.js';
import { JsonCache } from '../platform/store/cache.js';

/** How long an agent's configuration is reused from the store; a change drops it on every instance. */
export const AGENT_CACHE_TTL_MS = 10 * 60_000;

export const agentsChat = fp(
  async (app: App) => {
    const { config, db, clock, encryptor, logger, store, cacheStats, outbound, securityEvents } = app.core;
    const { workspaces, usage } = app.workspaces;
    const { providers } = app.providers;
    const { retrieval } = app.knowledge;
    const agents = new AgentService(db, clock, workspaces, providers, new JsonCache(store, 'agent', cacheStats, AGENT_CACHE_TTL_MS), (workspaceId, ids) => retrieval.existingBases(workspaceId, ids), app.accounts.audit);
    // Every process sweeps: answers whose writer died are finished while the system runs.
    const leases = new AnswerLeases(db, clock, logger);
    app.addHook('onReady', () => leases.start());
    app.addHook('onClose', () => leases.stop());
    // Every process indexes: messages and titles become searchable a moment after they are written, and a backlog left by an outage is worked off while the system runs.
    const searchIndex = new ConversationSearchIndexer({ db, encryptor, clock, logger });
    app.addHook('onReady', () => searchIndex.start());
    app.addHook('onClose', () => searchIndex.stop());
    const responseCache = config.LLM_CACHE_TTL_SECONDS > 0 ? new JsonCache<CachedTurn>(store, 'llm', cacheStats, config.LLM_CACHE_TTL_SECONDS * 1000) : null;
    const cancellations = new Cancellations(store);
    app.addHook('onClose', () => cancellations.close());
    const chat = new ChatService({
      db,
      encryptor,
      clock,
      logger,
      agents,
      providers,
      usage,
      retriever: retrieval,
      outbound: outbound.tools,
      cancellations,
      leases,
      responseCache,
      searchIndex,
    });
    await app.register(agentRoutes(agents), { prefix: API_PREFIX });
    await app.register(chatRoutes(chat), { prefix: API_PREFIX });
    await app.register(modelChoiceRoutes(new ModelChoice(agents, providers)), { prefix: API_PREFIX });
    await app.register(memberUsageRoutes(new MemberUsageService(db, clock, workspaces, app.accounts.users)), { prefix: API_PREFIX });
    await app.register(searchRoutes(new ConversationSearch({ db, encryptor, clock })), { prefix: API_PREFIX });
    await app.register(organiseRoutes(new ConversationOrganiser({ db, encryptor, clock, searchIndex }), new ConversationExporter({ db, encryptor, clock, agents })), { prefix: API_PREFIX });
    await app.register(shareRoutes(new ConversationSharing({ db, encryptor, clock, audit: app.accounts.audit, workspaces })), { prefix: API_PREFIX });
    await app.register(attachmentRoutes(new ConversationAttachments({ db, clock, knowledge: app.knowledge.service }), config.UPLOAD_MAX_BYTES), { prefix: API_PREFIX });
    // Every process purges: deleted conversations are gone a minute after their deletion while the system runs.
    const purge = new DeletedConversationPurge(db, clock, logger);
    app.addHook('onReady', () => purge.start());
    app.addHook('onClose', () => purge.stop());
    const webhooks = new WebhookService({
      db,
      store,
      clock,
      logger,
      secrets: new SigningSecretService(db, encryptor, clock),
      agents,
      workspaces,
      chat,
      outbound: outbound.webhooks,
      events: securityEvents,
    });
    await app.register(webhookRoutes(webhooks), { prefix: API_PREFIX });
    // The same model turns as the chat (budget, knowledge, tools, response cache, usage), nothing stored.
    const completions = new AgentCompletions({ agents, logger, providers, usage, retriever: retrieval, outbound: outbound.tools, responseCache });
    await app.register(openAiRoutes(new OpenAiCompatService({ workspaces, agents, completions, audit: app.accounts.audit, logger }), clock), { prefix: OPENAI_PREFIX });
  },
  { name: 'bastion-agents-chat', fastify: '5.x', dependencies: ['bastion-core', 'bastion-accounts', 'bastion-workspaces', 'bastion-providers', 'bastion-knowledge'] },
);
