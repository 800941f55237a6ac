-- The transactional outbox: a handler inserts its event here in the same transaction as its
-- state change; the relay publishes rows in id order and marks them sent.
CREATE TABLE outbox (
  id          bigserial PRIMARY KEY,
  event_id    uuid NOT NULL UNIQUE,
  tenant_id   text NOT NULL,
  event_type  text NOT NULL,
  topic       text NOT NULL,
  value       bytea NOT NULL,
  headers     jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at  timestamptz NOT NULL DEFAULT now(),
  sent_at     timestamptz
);
CREATE INDEX outbox_unsent ON outbox (id) WHERE sent_at IS NULL;
CREATE INDEX outbox_sent_at ON outbox (sent_at) WHERE sent_at IS NOT NULL;

CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('flow8_outbox', '');
  RETURN NULL;
END $$;
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();

-- The runtime role writes events and the relay marks them sent; it never rewrites an event.
GRANT SELECT, INSERT, DELETE ON outbox TO ${app_role};
GRANT UPDATE (sent_at) ON outbox TO ${app_role};
GRANT USAGE ON SEQUENCE outbox_id_seq TO ${app_role};
