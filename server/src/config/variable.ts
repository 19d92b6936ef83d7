/** The shape of one declared variable and the schema builders the groups share. */
import { z } from 'zod';
import { parseAllowList, type AllowList, type ParseAllowListOptions } from '../platform/net/ssrf-guard.js';

export interface Variable<T extends z.ZodType = z.ZodType> {
  group: string;
  schema: T;
  doc: string;
  /** Value shown in `.env.example`; defaults to the schema default. */
  example?: string;
  /** Secret values are never echoed in errors or logs. */
  secret?: boolean;
}

export const int = (min: number, max: number, fallback: number) => z.coerce.number().int().min(min).max(max).default(fallback);

export const url = (protocols: string[]) => z.url({ protocol: new RegExp(`^(${protocols.join('|')})$`) });

/** A list of private destinations an outbound purpose may reach (see parseAllowList). */
export const allowList = (options: ParseAllowListOptions = {}) =>
  z
    .string()
    .max(2000)
    .default('')
    .transform((value, context): AllowList => {
      try {
        return parseAllowList(value, options);
      } catch (error) {
        context.addIssue({ code: 'custom', message: (error as Error).message });
        return z.NEVER;
      }
    });
