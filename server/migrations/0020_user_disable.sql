-- An administrator can disable an account (modules/users/admin-service.ts): while disabled_at
-- is set, sign-in and every credential of the account are refused. The partial index serves
-- the last-administrator rule (the enabled administrators, locked in id order).
alter table users add column disabled_at timestamptz;
create index users_enabled_admins on users (id) where role = 'admin' and disabled_at is null;
