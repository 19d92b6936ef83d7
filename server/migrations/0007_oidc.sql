-- Federated identities (OpenID Connect): users are keyed by issuer + subject (ASVS 6.8.1).
create table user_identities (
  issuer text not null,
  subject text not null,
  user_id uuid not null references users (id) on delete cascade,
  email text,
  created_at timestamptz not null,
  primary key (issuer, subject)
);
create index user_identities_user_id on user_identities (user_id);

-- Linking an identity to an existing account waits for the owner's confirmation.
alter table auth_tokens drop constraint auth_tokens_kind_check;
alter table auth_tokens add constraint auth_tokens_kind_check
  check (kind in ('verify_email', 'password_reset', 'mfa_login', 'not_me', 'invite', 'oidc_link'));
alter table auth_tokens add column payload jsonb;
