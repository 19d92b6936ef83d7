/** Table types of privacy: data exports, published policies, their acceptance and consents. */
import type { ConsentPurpose, ExportStatus, PolicyKind } from '../../../domain/privacy.js';

export interface DataExportsTable {
  id: string;
  user_id: string;
  status: ExportStatus;
  token_hash: string | null;
  archive: Buffer | null;
  size_bytes: string | null; // bigint comes back as a string
  created_at: Date;
  completed_at: Date | null;
  expires_at: Date | null;
  downloaded_at: Date | null;
}

export interface PolicyVersionsTable {
  kind: PolicyKind;
  version: number;
  sha256: string;
  text: string;
  published_at: Date;
}

export interface PolicyAcceptancesTable {
  user_id: string;
  kind: PolicyKind;
  version: number;
  sha256: string;
  accepted_at: Date;
}

export interface ConsentRecordsTable {
  id: string;
  user_id: string;
  purpose: ConsentPurpose;
  granted: boolean;
  policy_version: number | null;
  recorded_at: Date;
}
