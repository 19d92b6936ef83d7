/** Table types of security monitoring: events, alerts and CSP violation reports. */
import type { Generated } from 'kysely';

export interface SecurityEventsTable {
  id: string;
  type: string;
  user_id: string | null;
  ip: string | null;
  details: Generated<unknown>;
  created_at: Date;
  severity: Generated<string>;
  actor_key_id: string | null;
  user_agent: string | null;
  request_id: string | null;
}

export interface SecurityAlertsTable {
  id: string;
  rule: string;
  key: string;
  severity: string;
  first_seen_at: Date;
  last_seen_at: Date;
  count: number;
  details: Generated<unknown>;
  acknowledged_at: Date | null;
  acknowledged_by: string | null;
}

export interface CspReportsTable {
  id: string;
  document_uri: string;
  blocked_uri: string;
  directive: string;
  source_file: string;
  line: number | null;
  disposition: string;
  user_agent: string;
  ip: string;
  created_at: Date;
}
