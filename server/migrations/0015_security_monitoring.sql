-- Security monitoring: the typed event stream gains who/where columns, and alerts raised
-- by the detection rules (deduplicated by rule + key; acknowledged by an admin).
alter table security_events add column severity text not null default 'info';
alter table security_events add column actor_key_id uuid;   -- the API key that acted, when one did
alter table security_events add column user_agent text;
alter table security_events add column request_id text;
create index security_events_type on security_events (type, created_at desc);
create index security_events_ip on security_events (ip, created_at desc);

create table security_alerts (
  id uuid primary key,
  rule text not null,                    -- e.g. 'credential_stuffing'
  key text not null,                     -- what the rule counted by: an IP, a /24, an account key…
  severity text not null,                -- 'warning' | 'critical'
  first_seen_at timestamptz not null,
  last_seen_at timestamptz not null,
  count integer not null,                -- firings merged into this alert
  details jsonb not null default '{}',   -- the last firing's figures (no secrets)
  acknowledged_at timestamptz,
  acknowledged_by uuid references users (id) on delete set null
);
create index security_alerts_rule_key on security_alerts (rule, key, last_seen_at desc);
create index security_alerts_last_seen on security_alerts (last_seen_at desc);
