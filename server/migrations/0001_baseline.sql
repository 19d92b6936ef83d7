-- Baseline: extensions and helpers every later migration may rely on.
-- schema_migrations itself is created by the migrator before this runs.

create table instance_settings (
  key text primary key,
  value jsonb not null,
  updated_at timestamptz not null default now()
);

comment on table instance_settings is 'Instance-wide settings that are not configuration (e.g. first-run markers).';
