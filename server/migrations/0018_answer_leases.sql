-- An answer being written is leased by the API process producing it (lease_owner) and kept
-- alive by its heartbeat (updated_at); a sweeper on any process finishes the answers whose
-- writer stopped heartbeating. The partial index keeps that sweep one small index scan.
alter table messages add column lease_owner text;
create index messages_streaming on messages (updated_at) where status = 'streaming';
