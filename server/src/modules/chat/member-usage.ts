/**
 * Per-member usage of a workspace this calendar month (UTC), for owners and admins: the
 * answers in each member's conversations and their tokens, from the stored answers.
 * Not counted here (only in the workspace's total, usage.ts): completions of the
 * OpenAI-compatible API (/v1), which store nothing, and conversations already purged after
 * their deletion. Members who left still appear, marked as former members.
 */
import type { WorkspaceRole } from '../../domain/workspaces.js';
import type { Clock } from '../../platform/clock.js';
import type { Db } from '../../platform/db/database.js';
import type { UserService } from '../users/service.js';
import type { WorkspaceContext, WorkspaceService } from '../workspaces/service.js';
import { usageByMember } from './member-usage-repo.js';

export interface MemberUsage {
  userId: string;
  /** null: the account no longer exists (erased). */
  name: string | null;
  email: string | null;
  /** null: no longer a member of the workspace. */
  role: WorkspaceRole | null;
  answers: number;
  inputTokens: number;
  outputTokens: number;
}

export interface MemberUsageReport {
  /** The first day of the month counted, YYYY-MM-01. */
  period: string;
  members: MemberUsage[];
}

export class MemberUsageService {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly workspaces: WorkspaceService,
    private readonly users: UserService,
  ) {}

  /** Most tokens first; needs `usage.members` (owners, admins). */
  async thisMonth(context: WorkspaceContext): Promise<MemberUsageReport> {
    this.workspaces.require(context, 'usage.members');
    const now = this.clock.now();
    const from = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
    const to = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
    const [rows, members] = await Promise.all([usageByMember(this.db, context.workspaceId, from, to), this.workspaces.members(context)]);
    const current = new Map(members.map((member) => [member.user_id, member]));
    const report = await Promise.all(
      rows.map(async (row): Promise<MemberUsage> => {
        const member = current.get(row.user_id);
        // A former member: their account's name and address, as the admins knew them.
        const user = member ? undefined : await this.users.byId(row.user_id);
        return {
          userId: row.user_id,
          name: member?.name ?? user?.name ?? null,
          email: member?.email ?? user?.email ?? null,
          role: member?.role ?? null,
          answers: row.answers,
          inputTokens: row.input_tokens,
          outputTokens: row.output_tokens,
        };
      }),
    );
    report.sort((a, b) => b.inputTokens + b.outputTokens - (a.inputTokens + a.outputTokens) || b.answers - a.answers || a.userId.localeCompare(b.userId));
    return { period: from.toISOString().slice(0, 10), members: report };
  }
}
