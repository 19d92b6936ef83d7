/** The query of per-member usage: one aggregate over a workspace's answers in a period. */
import type { Db } from '../../platform/db/database.js';

export interface MemberUsageRow {
  user_id: string;
  answers: number;
  input_tokens: number;
  output_tokens: number;
}

/**
 * Finished answers (assistant messages, regenerated ones included) created in
 * [from, to), and their tokens, per author of the conversation. Served by the
 * messages_workspace_answers index (0026).
 */
export async function usageByMember(db: Db, workspaceId: string, from: Date, to: Date): Promise<MemberUsageRow[]> {
  const rows = await db
    .selectFrom('messages as m')
    // The workspace on both sides: the planner can then read only this workspace's conversations (conversations_list).
    .innerJoin('conversations as c', (join) => join.onRef('c.id', '=', 'm.conversation_id').onRef('c.workspace_id', '=', 'm.workspace_id'))
    .select((eb) => ['c.user_id', eb.fn.countAll<string>().as('answers'), eb.fn.sum<string>('m.input_tokens').as('input_tokens'), eb.fn.sum<string>('m.output_tokens').as('output_tokens')])
    .where('m.workspace_id', '=', workspaceId)
    .where('m.role', '=', 'assistant')
    .where('m.status', '!=', 'streaming')
    .where('m.created_at', '>=', from)
    .where('m.created_at', '<', to)
    .groupBy('c.user_id')
    .execute();
  return rows.map((row) => ({ user_id: row.user_id, answers: Number(row.answers), input_tokens: Number(row.input_tokens), output_tokens: Number(row.output_tokens) }));
}
