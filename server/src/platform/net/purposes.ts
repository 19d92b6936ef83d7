/**
 * Why Bastion makes an outbound request. Each purpose has its own allowance of private
 * destinations and its own client (outbound-clients.ts), so allowing a local model for
 * providers does not let `fetch_url`, knowledge URLs, webhooks or SSO reach it too.
 */

export const OUTBOUND_PURPOSES = ['providers', 'knowledge', 'tools', 'webhooks', 'sso'] as const;

export type OutboundPurpose = (typeof OUTBOUND_PURPOSES)[number];

/** The setting that lists a purpose's allowed private destinations; refusals name it. */
export const ALLOW_SETTINGS = {
  providers: 'OUTBOUND_ALLOW_PRIVATE_PROVIDERS', // LLM provider connections: chat, connection tests, embeddings
  knowledge: 'OUTBOUND_ALLOW_PRIVATE_KNOWLEDGE', // documents added to a knowledge base by URL
  tools: 'OUTBOUND_ALLOW_PRIVATE_TOOLS', // the fetch_url agent tool
  webhooks: 'OUTBOUND_ALLOW_PRIVATE_WEBHOOKS', // agent webhook callbacks and the alert webhook
  sso: 'OUTBOUND_ALLOW_PRIVATE_SSO', // workspace SSO: OIDC discovery, token and JWKS requests
} as const satisfies Record<OutboundPurpose, string>;
