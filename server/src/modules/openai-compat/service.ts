/**
 * Bastion agents behind OpenAI's chat-completions API. A model is an agent, named by its id,
 * which names one agent in one workspace: no workspace needs choosing (an `X-Workspace-Id`
 * header narrows the list of models, and a call naming an agent of another workspace then
 * answers 404). An agent of a workspace the caller does not belong to answers exactly like
 * one that does not exist: 404 `model_not_found`.
 *
 * Answers run through the chat's model turns (chat/completion.ts): budget, knowledge, tools,
 * response cache and usage as in a conversation, but nothing of the exchange is stored; each
 * call leaves one audit entry `agent.invoked` naming the API key, the agent and the outcome
 * (never the text).
 */
import type { Logger } from 'pino';
import { AppError } from '../../errors.js';
import type { Actor } from '../audit/actor.js';
import type { AuditLog } from '../audit/service.js';
import type { Agent, AgentService } from '../agents/service.js';
import type { AgentCompletions, Completion, CompletionOptions } from '../chat/completion.js';
import type { WorkspaceContext, WorkspaceService } from '../workspaces/service.js';
import { toAgentInput } from './messages.js';
import type { ChatCompletionBody } from './schema.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** An agent the caller may run, as the model list shows it. */
export interface AgentModel {
  agentId: string;
  name: string;
  description: string;
  version: number;
  createdAt: Date;
  workspaceId: string;
  workspaceName: string;
}

export interface OpenAiCompatDeps {
  workspaces: WorkspaceService;
  agents: AgentService;
  completions: AgentCompletions;
  audit: AuditLog;
  logger: Logger;
}

/** The message does not echo the name sent (no reflected input): `param` names the field. */
function modelNotFound(): AppError {
  return new AppError('not_found', 'The model does not exist or you cannot use it: pass the id of an agent listed by GET /v1/models.', [{ path: 'model', message: 'unknown model' }]);
}

function toModel(agent: Agent, context: WorkspaceContext): AgentModel {
  return {
    agentId: agent.id,
    name: agent.config.name,
    description: agent.config.description,
    version: agent.version,
    createdAt: agent.createdAt,
    workspaceId: context.workspaceId,
    workspaceName: context.workspace.name,
  };
}

export class OpenAiCompatService {
  constructor(private readonly deps: OpenAiCompatDeps) {}

  /** The agents `userId` may run: those of `workspaceId` when given (404 unless a member), else of every workspace they belong to. */
  async models(userId: string, workspaceId: string | undefined): Promise<AgentModel[]> {
    const ids = workspaceId !== undefined ? [workspaceId] : (await this.deps.workspaces.list(userId)).map((membership) => membership.id);
    const lists = await Promise.all(
      ids.map(async (id) => {
        const context = await this.deps.workspaces.resolve(userId, id, 'chat.use');
        return (await this.deps.agents.list(context)).map((agent) => toModel(agent, context));
      }),
    );
    return lists.flat();
  }

  /** One agent as a model; 404 model_not_found unless `userId` may run it. */
  async model(userId: string, model: string, workspaceId: string | undefined): Promise<AgentModel> {
    const context = await this.locate(userId, model, workspaceId);
    return toModel(await this.orNotFound(model, this.deps.agents.get(context, model.toLowerCase())), context);
  }

  /**
   * Answers an OpenAI chat request with the agent it names. Refusals (400 parameters, 404
   * model, 402 budget) throw before any provider call; how the answer went is in the outcome.
   */
  async complete(userId: string, workspaceId: string | undefined, body: ChatCompletionBody, actor: Actor, options: CompletionOptions = {}): Promise<Completion> {
    const input = toAgentInput(body);
    const context = await this.locate(userId, body.model, workspaceId);
    const completion = await this.orNotFound(body.model, this.deps.completions.complete(context, body.model.toLowerCase(), input.request, options));
    await this.audit(actor, context, completion, input.stream, body.messages.length);
    return completion;
  }

  /** The caller's context in the workspace of the agent `model` names, or 404 model_not_found. */
  private async locate(userId: string, model: string, workspaceId: string | undefined): Promise<WorkspaceContext> {
    if (workspaceId !== undefined && !UUID.test(workspaceId)) throw new AppError('validation_failed', 'X-Workspace-Id must be a workspace id (a UUID).');
    if (!UUID.test(model)) throw modelNotFound();
    const home = await this.deps.agents.workspaceOf(model.toLowerCase());
    if (!home || (workspaceId !== undefined && workspaceId.toLowerCase() !== home)) throw modelNotFound();
    return this.orNotFound(model, this.deps.workspaces.resolve(userId, home, 'chat.use'));
  }

  /** A workspace or agent that is not there (or not the caller's) is a model that is not there. */
  private async orNotFound<T>(model: string, work: Promise<T>): Promise<T> {
    try {
      return await work;
    } catch (error) {
      if (error instanceof AppError && error.code === 'not_found') throw modelNotFound();
      throw error;
    }
  }

  /**
   * The call's audit entry, written when the answer ended (so it holds the outcome). The
   * answer was produced and its tokens counted by then: a failed write is logged, not
   * turned into a failed answer.
   */
  private async audit(actor: Actor, context: WorkspaceContext, { agent, result }: Completion, stream: boolean, messages: number): Promise<void> {
    // `usage.input`/`output`, not `…Tokens`: the log redacts keys that look like secrets (token).
    const details = { api: 'openai', agentVersion: agent.version, stream, messages, status: result.status, stopReason: result.stopReason, usage: { input: result.inputTokens, output: result.outputTokens } };
    try {
      await this.deps.audit.transaction((trx) => this.deps.audit.append(trx, actor, { action: 'agent.invoked', workspaceId: context.workspaceId, target: { type: 'agent', id: agent.id }, details }));
    } catch (error) {
      this.deps.logger.error({ err: error, agentId: agent.id, workspaceId: context.workspaceId }, 'audit entry of an agent call not written');
    }
  }
}
