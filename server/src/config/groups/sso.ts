/** The `Single sign-on` group. The instance-wide OpenID Connect provider. */
import { z } from 'zod';
import { url, type Variable } from '../variable.js';

export const ssoVariables = {
  OIDC_ISSUER: {
    group: 'Single sign-on',
    schema: url(['https', 'http']).optional(),
    doc: 'OpenID Connect issuer URL (discovery at /.well-known/openid-configuration). Unset: no SSO. Must be https except on loopback.',
    example: '',
  },
  OIDC_CLIENT_ID: { group: 'Single sign-on', schema: z.string().min(1).max(200).optional(), doc: 'Client id registered at the identity provider.', example: '' },
  OIDC_CLIENT_SECRET: { group: 'Single sign-on', schema: z.string().min(1).max(500).optional(), doc: 'Client secret registered at the identity provider.', example: '', secret: true },
  OIDC_JIT_PROVISIONING: {
    group: 'Single sign-on',
    schema: z
      .enum(['true', 'false'])
      .default('false')
      .transform((v) => v === 'true'),
    doc: 'Create an account at first SSO sign-in for a verified email that has none.',
  },
} satisfies Record<string, Variable>;
