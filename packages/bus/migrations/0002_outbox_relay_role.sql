-- The outbox holds every company's events (payloads included) until the relay has published
-- them. The runtime role used to read and delete them all; now it may only add events, inside its
-- own transaction, and the relay works under a role of its own (<db>_relay) that may do nothing
-- but read the outbox, mark rows sent and delete sent rows. Neither role can reach the other's
-- tables: the relay role has no privilege anywhere else in the database.
REVOKE SELECT, UPDATE, DELETE ON outbox FROM ${app_role};
GRANT INSERT ON outbox TO ${app_role};
GRANT USAGE ON SEQUENCE outbox_id_seq TO ${app_role};

GRANT SELECT, DELETE ON outbox TO ${relay_role};
GRANT UPDATE (sent_at) ON outbox TO ${relay_role};
GRANT USAGE ON SCHEMA public TO ${relay_role};
