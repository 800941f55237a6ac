-- Work messages (commands) go through the same outbox as facts, committed with the state change
-- that decides them, but are keyed by what must stay in order (a flow execution), not by tenant.
-- NULL: the tenant id is the key, as for every fact event.
ALTER TABLE outbox ADD COLUMN message_key text;
