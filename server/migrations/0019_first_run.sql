-- First-run setup: `bastion serve` issues a single-use setup link while no administrator
-- exists (modules/auth/setup.ts); its token is an auth_tokens row of kind 'setup'.
alter table auth_tokens drop constraint auth_tokens_kind_check;
alter table auth_tokens add constraint auth_tokens_kind_check
  check (kind in ('verify_email', 'password_reset', 'mfa_login', 'not_me', 'invite', 'oidc_link', 'setup'));
