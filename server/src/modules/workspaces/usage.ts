/**
 * Token usage per workspace and month (UTC), and the monthly budget that stops
 * provider calls once spent. Recorded after each model turn, from the provider's own
 * counts when it reports them.
 */
import { AppError } from '../../errors.js';
import type { Clock } from '../../platform/clock.js';
import type { Db } from '../../platform/db/database.js';
import { addUsage, findUsage, hasBudgetLeft } from './repo.js';
import type { WorkspaceContext } from './service.js';

export interface UsageSummary {
  period: string;
  inputTokens: number;
  outputTokens: number;
  budget: number | null;
}

export class UsageService {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    /** Told of every recorded use (the provider-spend rule of monitoring). */
    private readonly onUsage?: (workspaceId: string, tokens: number) => Promise<void>,
  ) {}

  period(): string {
    return this.clock.now().toISOString().slice(0, 7) + '-01';
  }

  async summary(context: WorkspaceContext): Promise<UsageSummary> {
    const period = this.period();
    const row = await findUsage(this.db, context.workspaceId, period);
    const budget = context.workspace.monthly_token_budget;
    return { period, inputTokens: Number(row?.input_tokens ?? 0), outputTokens: Number(row?.output_tokens ?? 0), budget: budget === null ? null : Number(budget) };
  }

  /** Throws 402 budget_exhausted when this month's tokens reached the workspace budget. */
  async assertWithinBudget(context: WorkspaceContext): Promise<void> {
    if (context.workspace.monthly_token_budget === null) return;
    const usage = await this.summary(context);
    if (usage.budget !== null && usage.inputTokens + usage.outputTokens >= usage.budget) {
      throw new AppError('budget_exhausted', `This workspace used its monthly budget of ${usage.budget} tokens; an admin can raise it (PATCH /api/v1/workspaces/:id).`);
    }
  }

  /** For provider calls made without a request's workspace context (search reranking). */
  hasBudgetLeft(workspaceId: string): Promise<boolean> {
    return hasBudgetLeft(this.db, workspaceId, this.period());
  }

  async record(workspaceId: string, inputTokens: number, outputTokens: number): Promise<void> {
    if (inputTokens === 0 && outputTokens === 0) return;
    await addUsage(this.db, workspaceId, this.period(), inputTokens, outputTokens);
    await this.onUsage?.(workspaceId, inputTokens + outputTokens);
  }
}
