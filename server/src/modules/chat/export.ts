/**
 * One conversation, exported by its owner: its title, agent and dates, and the messages
 * shown in the chat (regenerated answers' replaced versions left out), each with its
 * model, usage, tool calls and the passages it cites — where a passage was recorded with
 * its origin, the document's id, name, heading and chunk. Nothing of anyone else's: the
 * conversation is looked up as the caller's own, like every read.
 */
import { AppError } from '../../errors.js';
import type { Clock } from '../../platform/clock.js';
import type { Encryptor } from '../../platform/crypto/envelope.js';
import type { Db } from '../../platform/db/database.js';
import type { Passage } from '../../platform/llm/types.js';
import type { AgentService } from '../agents/service.js';
import type { WorkspaceContext } from '../workspaces/service.js';
import type { ToolTrace } from './agent-loop.js';
import { openConversation, type Conversation } from './conversation.js';
import * as repo from './repo.js';
import { MessageSealing } from './sealing.js';

/** The most recent messages an export holds (far beyond any conversation's length in practice). */
export const EXPORT_MESSAGES_LIMIT = 10_000;

export interface ExportedCitation {
  /** The [n] marker in the message's text. */
  marker: string;
  /** The source as shown in the chat, e.g. "handbook.pdf › Refunds (chunk 3)". */
  source: string;
  text: string;
  score: number;
  /** null on answers stored before the origin of passages was recorded. */
  documentId: string | null;
  knowledgeBaseId: string | null;
  document: string | null;
  heading: string | null;
  chunk: number | null;
}

export interface ExportedMessage {
  id: string;
  role: repo.MessageRow['role'];
  text: string;
  status: repo.MessageRow['status'];
  stopReason: string | null;
  model: string | null;
  agentVersion: number | null;
  inputTokens: number;
  outputTokens: number;
  createdAt: Date;
  citations: ExportedCitation[];
  toolCalls: ToolTrace[];
}

export interface ConversationExport {
  conversation: Conversation;
  /** name: null when the agent was deleted since. */
  agent: { id: string; name: string | null; version: number };
  messages: ExportedMessage[];
  exportedAt: Date;
}

export interface ExporterDeps {
  db: Db;
  encryptor: Encryptor;
  clock: Clock;
  agents: Pick<AgentService, 'getForRun'>;
}

function citationOf(passage: Passage): ExportedCitation {
  const origin = passage.origin;
  return {
    marker: passage.id,
    source: passage.source,
    text: passage.text,
    score: passage.score,
    documentId: origin?.documentId ?? null,
    knowledgeBaseId: origin?.knowledgeBaseId ?? null,
    document: origin?.filename ?? null,
    heading: origin?.heading ?? null,
    chunk: origin?.chunk ?? null,
  };
}

export class ConversationExporter {
  private readonly sealing: MessageSealing;

  constructor(private readonly deps: ExporterDeps) {
    this.sealing = new MessageSealing(deps.encryptor);
  }

  async export(context: WorkspaceContext, id: string): Promise<ConversationExport> {
    const row = await repo.findConversation(this.deps.db, { workspaceId: context.workspaceId, userId: context.userId }, id);
    if (!row) throw new AppError('not_found', 'No such conversation.');
    const [conversation, agentName, rows] = await Promise.all([
      openConversation(this.sealing, row),
      this.agentName(context.workspaceId, row.agent_id),
      repo.listMessages(this.deps.db, context.workspaceId, row.id, false, EXPORT_MESSAGES_LIMIT),
    ]);
    const messages = await Promise.all(
      rows.map(async (m): Promise<ExportedMessage> => {
        const content = await this.sealing.openContent(m);
        return {
          id: m.id,
          role: m.role,
          text: content.text,
          status: m.status,
          stopReason: m.stop_reason,
          model: m.model,
          agentVersion: m.agent_version,
          inputTokens: m.input_tokens,
          outputTokens: m.output_tokens,
          createdAt: m.created_at,
          citations: content.citations.map(citationOf),
          toolCalls: content.toolCalls,
        };
      }),
    );
    return { conversation, agent: { id: row.agent_id, name: agentName, version: row.agent_version }, messages, exportedAt: this.deps.clock.now() };
  }

  private async agentName(workspaceId: string, agentId: string): Promise<string | null> {
    try {
      return (await this.deps.agents.getForRun(workspaceId, agentId)).config.name;
    } catch (error) {
      if (error instanceof AppError && error.code === 'not_found') return null;
      throw error;
    }
  }
}
