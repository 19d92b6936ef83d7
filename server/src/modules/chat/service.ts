/**
 * Conversations and answers. The user's message is stored before any provider call;
 * the answer is stored as a `streaming` row at once, checkpointed while it streams,
 * and finished as complete, incomplete (cancelled, disconnected, a limit, a provider
 * failure after some text) or failed — a partial answer is never lost. Message text
 * and titles are envelope-encrypted under the workspace's key.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { MessageRole } from '../../domain/chat.js';
import { AppError } from '../../errors.js';
import type { Clock } from '../../platform/clock.js';
import type { Encryptor } from '../../platform/crypto/envelope.js';
import type { Db } from '../../platform/db/database.js';
import type { Passage } from '../../platform/llm/types.js';
import type { Agent, AgentService } from '../agents/service.js';
import type { WorkspaceContext } from '../workspaces/service.js';
import type { LoopEvent, LoopResult } from './agent-loop.js';
import { attachmentBaseId } from './attachments.js';
import type { Cancellations } from './cancellation.js';
import { Checkpointer } from './checkpointer.js';
import { openConversation, type Conversation } from './conversation.js';
import { ModelChoice } from './model-choice.js';
import type { AnswerLeases } from './leases.js';
import type { HistoryMessage } from './prompt.js';
import * as repo from './repo.js';
import { MessageSealing, type StoredContent } from './sealing.js';
import { failedTurns, prepareTurns, runTurns, type Prepared, type TurnDeps } from './turns.js';

type NewMessageRow = Parameters<typeof repo.insertMessage>[1];

/** A row as stored, with the defaults the database fills in (seq is not read back). */
function stored(row: NewMessageRow): repo.MessageRow {
  return { ...row, lease_owner: row.lease_owner ?? null, seq: '0', input_tokens: 0, output_tokens: 0, superseded: false, search_indexed_at: null };
}

const HISTORY_LIMIT = 41;
const MESSAGES_LIMIT = 1_000;

export interface Message extends StoredContent {
  id: string;
  role: MessageRole;
  status: repo.MessageRow['status'];
  stopReason: string | null;
  agentVersion: number | null;
  model: string | null;
  inputTokens: number;
  outputTokens: number;
  createdAt: Date;
}

export type { Conversation } from './conversation.js';

export type ChatStreamEvent = LoopEvent | { type: 'message'; message: Message; answerId: string } | { type: 'citations'; citations: Passage[] } | { type: 'done'; message: Message; error?: { code: string; message: string } };

export interface AnswerOptions {
  /** Aborts the answer (e.g. the client went away); its string reason is recorded. */
  signal?: AbortSignal;
  emit?: (event: ChatStreamEvent) => void;
}

export interface SendOptions extends AnswerOptions {
  /** Another model for this answer (model-choice.ts); refused with model_not_allowed unless the agent offers it. */
  model?: string | undefined;
}

/** What send() computed ahead for answer(): the history and the provider call's inputs. */
interface AnswerInputs extends AnswerOptions {
  prepared?: Promise<Prepared>;
  history?: HistoryMessage[];
}

/** The model turns' dependencies (turns.ts: providers, usage, retriever, tools' client, response cache) and the conversations'. */
export interface ChatDeps extends TurnDeps {
  db: Db;
  encryptor: Encryptor;
  clock: Clock;
  logger: Logger;
  agents: AgentService;
  cancellations: Cancellations;
  /** Leases and heartbeats of the answers this process writes; retries their final writes. */
  leases: AnswerLeases;
  /** Told when messages are written, so they are searchable at once (search-index.ts). */
  searchIndex?: { nudge(): void };
}

export class ChatService {
  private readonly sealing: MessageSealing;
  private readonly models: ModelChoice;

  constructor(private readonly deps: ChatDeps) {
    this.sealing = new MessageSealing(deps.encryptor);
    this.models = new ModelChoice(deps.agents, deps.providers);
  }

  private owner(context: WorkspaceContext): repo.Owner {
    return { workspaceId: context.workspaceId, userId: context.userId };
  }

  /** The caller's conversations, most recent first: not archived ones unless `filter` asks for the archived. */
  async listConversations(context: WorkspaceContext, limit: number, before?: Date, filter?: repo.ConversationFilter): Promise<Conversation[]> {
    const rows = await repo.listConversations(this.deps.db, this.owner(context), limit, before, filter);
    return Promise.all(rows.map((row) => this.conversation(row)));
  }

  async createConversation(context: WorkspaceContext, agentId: string, source: repo.ConversationRow['source'] = 'chat'): Promise<Conversation> {
    const agent = await this.deps.agents.get(context, agentId);
    const now = this.deps.clock.now();
    const row: repo.ConversationRow = {
      id: randomUUID(),
      workspace_id: context.workspaceId,
      user_id: context.userId,
      agent_id: agent.id,
      agent_version: agent.version,
      source,
      title: null,
      created_at: now,
      updated_at: now,
      pinned_at: null,
      archived_at: null,
      deleted_at: null,
      title_indexed_at: null,
    };
    await repo.insertConversation(this.deps.db, row);
    return this.conversation(row);
  }

  async getConversation(context: WorkspaceContext, id: string): Promise<Conversation> {
    return this.conversation(await this.findConversation(context, id));
  }

  async messages(context: WorkspaceContext, id: string, includeSuperseded = false): Promise<Message[]> {
    await this.findConversation(context, id);
    const rows = await repo.listMessages(this.deps.db, context.workspaceId, id, includeSuperseded, MESSAGES_LIMIT);
    return Promise.all(rows.map((row) => this.message(row)));
  }

  async cancel(context: WorkspaceContext, id: string): Promise<{ cancelled: boolean }> {
    await this.findConversation(context, id);
    const now = this.deps.clock.now().getTime();
    // Asked before the broadcast: the copy streaming the answer stops when it arrives and may
    // have stored the answer as cancelled before this request reads anything.
    const streaming = await repo.hasStreamingAnswer(this.deps.db, context.workspaceId, id, this.deps.leases.liveSince());
    const here = await this.deps.cancellations.cancel(id, now);
    return { cancelled: here || streaming };
  }

  /** Stores the user's message, then answers it. */
  async send(context: WorkspaceContext, conversationId: string, text: string, options: SendOptions = {}): Promise<{ userMessage: Message; answer: Message; error?: { code: string; message: string } }> {
    // Everything before the provider call is the time to first token: independent steps run together.
    const [conversation] = await Promise.all([this.findConversationToAnswer(context, conversationId), this.deps.usage.assertWithinBudget(context)]);
    // A picked model replaces the agent's for this answer: the provider call, the cache key and the answer's `model` column.
    const agent = await this.models.withModel(context, await this.agentOf(context, conversation), options.model);
    // The provider and the passages do not depend on what is stored: fetched while it is written.
    const prepared = this.prepare(context, agent, text, conversation.id, conversation.attachment_base_id);
    prepared.catch(() => undefined); // awaited by produce(); a failure before then is reported there, not as unhandled
    const now = this.deps.clock.now();
    const content: StoredContent = { text, citations: [], toolCalls: [] };
    const [userRow, answerRow, title] = await Promise.all([
      this.messageRow(context, conversation.id, 'user', content, 'complete', now, agent),
      this.messageRow(context, conversation.id, 'assistant', { text: '', citations: [], toolCalls: [] }, 'streaming', now, agent),
      conversation.title ? null : this.sealing.sealTitle(context.workspaceId, conversation.id, titleOf(text)),
    ]);
    // One statement: a stored question always has its answer row, which the lease sweeper
    // finishes if this process dies or loses the database before the answer does. The
    // history is read alongside and leaves both new rows out, whichever commits first.
    const [, earlier] = await Promise.all([repo.insertExchange(this.deps.db, this.owner(context), conversation.id, [userRow, answerRow], title, now), this.history(context, conversation.id, new Set([userRow.id, answerRow.id]))]);
    const history: HistoryMessage[] = [...earlier.slice(-(HISTORY_LIMIT - 2)), { role: 'user', text }];
    const userMessage = this.toMessage(stored(userRow), content); // no need to decrypt what was just written
    const { answer, error } = await this.answer(context, conversation, agent, text, { ...options, prepared, history }, userMessage, stored(answerRow));
    return { userMessage, answer, ...(error ? { error } : {}) };
  }

  /** Answers the last user message again; the previous answer is kept but hidden. */
  async regenerate(context: WorkspaceContext, conversationId: string, options: AnswerOptions = {}): Promise<{ answer: Message; error?: { code: string; message: string } }> {
    const conversation = await this.findConversation(context, conversationId);
    const agent = await this.agentOf(context, conversation);
    await this.deps.usage.assertWithinBudget(context);
    const superseded = await repo.supersedeLastAnswer(this.deps.db, context.workspaceId, conversation.id);
    if (!superseded) throw new AppError('conflict', 'There is no finished answer to regenerate.');
    const history = await this.history(context, conversation.id);
    const last = history.at(-1);
    if (!last || last.role !== 'user') throw new AppError('conflict', 'There is no question to answer again.');
    return this.answer(context, conversation, agent, last.text, options);
  }

  /** `inserted`: the answer's `streaming` row, already stored with the question (send). */
  private async answer(
    context: WorkspaceContext,
    conversation: repo.ConversationRow,
    agent: Agent,
    question: string,
    options: AnswerInputs,
    userMessage?: Message,
    inserted?: repo.MessageRow,
  ): Promise<{ answer: Message; error?: { code: string; message: string } }> {
    const emit = options.emit ?? (() => undefined);
    // Independent reads and writes before the provider call run together: they are the time to first token.
    const [history, answerRow] = await Promise.all([
      options.history ?? this.history(context, conversation.id), // leaves out the `streaming` answer row
      inserted ?? this.insert(context, conversation.id, 'assistant', { text: '', citations: [], toolCalls: [] }, 'streaming', this.deps.clock.now(), agent),
    ]);
    if (userMessage) emit({ type: 'message', message: userMessage, answerId: answerRow.id });
    const lease = this.deps.leases.hold(context.workspaceId, answerRow.id);
    try {
      return await this.produce(context, conversation, agent, question, options, history, answerRow);
    } finally {
      lease.release();
    }
  }

  /** Streams the answer into its leased row, then writes its final state. */
  private async produce(
    context: WorkspaceContext,
    conversation: repo.ConversationRow,
    agent: Agent,
    question: string,
    options: AnswerInputs,
    history: HistoryMessage[],
    answerRow: repo.MessageRow,
  ): Promise<{ answer: Message; error?: { code: string; message: string } }> {
    const { config } = agent;
    const emit = options.emit ?? (() => undefined);
    const tracked = this.deps.cancellations.track(conversation.id, this.deps.clock.now().getTime());
    const wallClock = new AbortController();
    const timer = setTimeout(() => wallClock.abort('max_wall_time'), config.limits.maxWallTimeMs);
    const signal = AbortSignal.any([tracked.signal, wallClock.signal, ...(options.signal ? [options.signal] : [])]);
    const checkpoint = new Checkpointer((text) => this.saveContent(context, answerRow.id, { text, citations: [], toolCalls: [] }, 'streaming'));
    let result: LoopResult | undefined;
    let text = '';
    // Usage that could not be recorded (the database went away mid-answer) is recorded with the final write.
    const unrecorded = { input: 0, output: 0 };
    const recordUsage = async (input: number, output: number): Promise<void> => {
      try {
        await this.deps.usage.record(context.workspaceId, input, output);
      } catch (error) {
        this.deps.logger.warn({ err: error, conversationId: conversation.id }, 'usage not recorded yet; recorded with the final write');
        unrecorded.input += input;
        unrecorded.output += output;
      }
    };
    try {
      result = await runTurns(this.deps, {
        context,
        agent,
        prepared: options.prepared ?? this.prepare(context, agent, question, conversation.id),
        history,
        signal,
        emit: (event) => {
          if (event.type === 'delta') {
            text += event.text;
            checkpoint.offer(text);
          }
          emit(event);
        },
        recordUsage,
      });
    } catch (error) {
      if (!(error instanceof AppError)) this.deps.logger.error({ err: error, conversationId: conversation.id }, 'answer failed');
      // What the reader already saw is kept: a failure after some text is an incomplete answer.
      result = failedTurns(error, text);
    } finally {
      clearTimeout(timer);
      tracked.done();
      await checkpoint.settle();
    }
    const final = result;
    const saved = await this.deps.leases.finish(answerRow.id, async () => {
      if (unrecorded.input > 0 || unrecorded.output > 0) {
        await this.deps.usage.record(context.workspaceId, unrecorded.input, unrecorded.output);
        unrecorded.input = unrecorded.output = 0;
      }
      const content = await this.sealing.sealContent(context.workspaceId, answerRow.id, { text: final.text, citations: final.citations, toolCalls: final.toolCalls });
      const changes = { content, status: final.status, stop_reason: final.stopReason, input_tokens: final.inputTokens, output_tokens: final.outputTokens };
      await repo.finishAnswer(this.deps.db, this.owner(context), conversation.id, answerRow.id, changes, agent.version, this.deps.clock.now());
    });
    this.deps.searchIndex?.nudge(); // the question (and its title) and the answer become searchable
    // The client has every token but the answer is not stored yet: say so, never just end the stream.
    if (!saved) throw new AppError('service_unavailable', 'The answer was received but could not be saved yet because the database is unavailable; it is saved when the database returns. Reload the conversation in a minute.');
    const answer: Message = {
      ...this.toMessage(answerRow, { text: '', citations: [], toolCalls: [] }),
      text: result.text,
      citations: result.citations,
      toolCalls: result.toolCalls,
      status: result.status,
      stopReason: result.stopReason,
      inputTokens: result.inputTokens,
      outputTokens: result.outputTokens,
    };
    if (result.citations.length > 0) emit({ type: 'citations', citations: result.citations });
    emit({ type: 'done', message: answer, ...(result.error ? { error: result.error } : {}) });
    return { answer, ...(result.error ? { error: result.error } : {}) };
  }

  /** What the provider call needs besides the history: the passages and the provider. */
  private prepare(context: WorkspaceContext, agent: Agent, question: string, conversationId: string, attachmentBase?: string | null): Promise<Prepared> {
    // The conversation's attached files are searched with the agent's knowledge (attachments.ts);
    // `attachmentBase` when the caller read it with the conversation (null: none).
    const attached = (attachmentBase !== undefined ? Promise.resolve(attachmentBase) : attachmentBaseId(this.deps.db, this.owner(context), conversationId)).then((id) => (id ? [id] : []));
    return prepareTurns(this.deps, context, agent, question, attached);
  }

  private async agentOf(context: WorkspaceContext, conversation: repo.ConversationRow): Promise<Agent> {
    try {
      return await this.deps.agents.getForRun(context.workspaceId, conversation.agent_id);
    } catch (error) {
      if (error instanceof AppError && error.code === 'not_found') throw new AppError('conflict', 'The agent of this conversation was deleted; start a conversation with another agent.');
      throw error;
    }
  }

  private async findConversationToAnswer(context: WorkspaceContext, id: string): Promise<repo.ConversationToAnswer> {
    const row = await repo.findConversationToAnswer(this.deps.db, this.owner(context), id);
    if (!row) throw new AppError('not_found', 'No such conversation.');
    return row;
  }

  private async findConversation(context: WorkspaceContext, id: string): Promise<repo.ConversationRow> {
    const row = await repo.findConversation(this.deps.db, this.owner(context), id);
    if (!row) throw new AppError('not_found', 'No such conversation.');
    return row;
  }

  /** The conversation's finished messages, oldest first, without the rows in `leaveOut`. */
  private async history(context: WorkspaceContext, conversationId: string, leaveOut?: ReadonlySet<string>): Promise<HistoryMessage[]> {
    const rows = await repo.listMessages(this.deps.db, context.workspaceId, conversationId, false, HISTORY_LIMIT);
    const finished = rows.filter((row) => row.status !== 'streaming' && row.status !== 'failed' && !leaveOut?.has(row.id));
    return Promise.all(finished.map(async (row) => ({ role: row.role, text: (await this.content(row)).text })));
  }

  private async insert(context: WorkspaceContext, conversationId: string, role: MessageRole, content: StoredContent, status: repo.MessageRow['status'], now: Date, agent: Agent): Promise<repo.MessageRow> {
    const row = await this.messageRow(context, conversationId, role, content, status, now, agent);
    await repo.insertMessage(this.deps.db, row);
    return stored(row);
  }

  /** A new message's row, its content sealed, not stored yet. */
  private async messageRow(context: WorkspaceContext, conversationId: string, role: MessageRole, content: StoredContent, status: repo.MessageRow['status'], now: Date, agent: Agent): Promise<NewMessageRow> {
    const id = randomUUID();
    return {
      id,
      conversation_id: conversationId,
      workspace_id: context.workspaceId,
      role,
      content: await this.sealing.sealContent(context.workspaceId, id, content),
      status,
      stop_reason: null,
      lease_owner: status === 'streaming' ? this.deps.leases.owner : null,
      agent_version: agent.version,
      model: role === 'assistant' ? agent.config.model : null,
      created_at: now,
      updated_at: now,
    };
  }

  private async saveContent(context: WorkspaceContext, id: string, content: StoredContent, status: repo.MessageRow['status'], extra: Partial<repo.MessageRow> = {}): Promise<void> {
    const sealed = await this.sealing.sealContent(context.workspaceId, id, content);
    await repo.updateMessage(this.deps.db, context.workspaceId, id, { ...extra, content: sealed, status, updated_at: this.deps.clock.now() });
  }

  private content(row: repo.MessageRow): Promise<StoredContent> {
    return this.sealing.openContent(row);
  }

  private async message(row: repo.MessageRow): Promise<Message> {
    return this.toMessage(row, await this.content(row));
  }

  private toMessage(row: repo.MessageRow, content: StoredContent): Message {
    return {
      id: row.id,
      role: row.role,
      ...content,
      status: row.status,
      stopReason: row.stop_reason,
      agentVersion: row.agent_version,
      model: row.model,
      inputTokens: row.input_tokens,
      outputTokens: row.output_tokens,
      createdAt: row.created_at,
    };
  }

  private conversation(row: repo.ConversationRow): Promise<Conversation> {
    return openConversation(this.sealing, row);
  }
}

/** A conversation's title: the first message on one line, cut to 80 characters. */
function titleOf(text: string): string {
  return text.replace(/\s+/g, ' ').trim().slice(0, 80);
}
