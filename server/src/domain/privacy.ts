/** Privacy: data exports, published policies and the purposes a person can consent to. */

export const EXPORT_STATUSES = ['pending', 'ready', 'downloaded', 'expired', 'failed'] as const;
export type ExportStatus = (typeof EXPORT_STATUSES)[number];

export const POLICY_KINDS = ['privacy', 'terms'] as const;
export type PolicyKind = (typeof POLICY_KINDS)[number];

export const CONSENT_PURPOSES = ['product_analytics', 'improve_prompts'] as const;
export type ConsentPurpose = (typeof CONSENT_PURPOSES)[number];
