-- The append-only, hash-chained audit ledger. See docs/audit-ledger-format.md.

-- Tenants that have a chain. Holds nothing but ids: the checkpoint job needs the list across
-- tenants, every table with tenant content below is under row-level security.
CREATE TABLE ledger_tenants (
  tenant_id  text PRIMARY KEY,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- Each entry, with its canonical bytes stored verbatim. Partitioned by month of recording so
-- retention can later detach and drop whole expired segments (after a signed checkpoint).
-- The columns beside `canonical` are copies for filtering; only `canonical` is hashed.
CREATE TABLE ledger_entries (
  tenant_id     text NOT NULL,
  seq           bigint NOT NULL CHECK (seq > 0),
  event_id      uuid NOT NULL,
  event_type    text NOT NULL,
  actor_type    text NOT NULL,
  actor_id      text NOT NULL,
  resource_type text NOT NULL,
  resource_id   text NOT NULL,
  occurred_at   timestamptz NOT NULL,
  recorded_at   timestamptz NOT NULL,
  canonical     bytea NOT NULL,
  prev_hash     bytea NOT NULL CHECK (length(prev_hash) = 32),
  hash          bytea NOT NULL CHECK (length(hash) = 32),
  PRIMARY KEY (tenant_id, seq, recorded_at)
) PARTITION BY RANGE (recorded_at);
CREATE INDEX ledger_entries_type ON ledger_entries (tenant_id, event_type, seq);
CREATE INDEX ledger_entries_actor ON ledger_entries (tenant_id, actor_id, seq);
CREATE INDEX ledger_entries_resource ON ledger_entries (tenant_id, resource_type, resource_id, seq);
CREATE INDEX ledger_entries_occurred ON ledger_entries (tenant_id, occurred_at);

-- The fences that a partitioned table cannot carry itself (a unique key there must include the
-- partition key): one row per entry, UNIQUE(event_id) and UNIQUE(tenant_id, seq).
CREATE TABLE ledger_sequence (
  tenant_id   text NOT NULL,
  seq         bigint NOT NULL,
  event_id    uuid NOT NULL UNIQUE,
  recorded_at timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, seq)
);

-- The head of each tenant's chain, locked FOR UPDATE by the appender: two consumers can never
-- both extend the same chain, so a stale consumer after a rebalance cannot fork it.
CREATE TABLE ledger_heads (
  tenant_id  text PRIMARY KEY,
  seq        bigint NOT NULL,
  hash       bytea NOT NULL CHECK (length(hash) = 32),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Public keys of every checkpoint signing key ever used, so old checkpoints stay verifiable.
CREATE TABLE ledger_signing_keys (
  key_id     text PRIMARY KEY,
  public_key bytea NOT NULL CHECK (length(public_key) = 32),
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE ledger_checkpoints (
  id         bigserial PRIMARY KEY,
  tenant_id  text NOT NULL,
  seq        bigint NOT NULL,
  head_hash  bytea NOT NULL CHECK (length(head_hash) = 32),
  signed_at  timestamptz NOT NULL,
  key_id     text NOT NULL REFERENCES ledger_signing_keys (key_id),
  canonical  bytea NOT NULL,
  signature  bytea NOT NULL CHECK (length(signature) = 64)
);
CREATE INDEX ledger_checkpoints_tenant ON ledger_checkpoints (tenant_id, seq);

-- Kafka offsets of the ingest consumer, committed in the same transaction as the entries.
CREATE TABLE consumer_offsets (
  group_id    text NOT NULL,
  topic       text NOT NULL,
  partition   integer NOT NULL,
  next_offset bigint NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (group_id, topic, partition)
);

-- Immutability: whatever the role, rows of the ledger are never updated, deleted or truncated.
CREATE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the audit ledger is append-only: % on % is refused', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER ledger_entries_immutable BEFORE UPDATE OR DELETE ON ledger_entries
  FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_entries_no_truncate BEFORE TRUNCATE ON ledger_entries
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_sequence_immutable BEFORE UPDATE OR DELETE ON ledger_sequence
  FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_sequence_no_truncate BEFORE TRUNCATE ON ledger_sequence
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_checkpoints_immutable BEFORE UPDATE OR DELETE ON ledger_checkpoints
  FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_checkpoints_no_truncate BEFORE TRUNCATE ON ledger_checkpoints
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_signing_keys_immutable BEFORE UPDATE OR DELETE ON ledger_signing_keys
  FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();

-- Monthly partitions. TRUNCATE triggers are not inherited by partitions, so each gets its own.
-- SECURITY DEFINER so the service can create the coming months without holding DDL rights.
CREATE FUNCTION ledger_ensure_partitions(months_ahead integer DEFAULT 2) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
  m date;
  name text;
  created integer := 0;
BEGIN
  FOR i IN -1..LEAST(GREATEST(months_ahead, 0), 24) LOOP
    m := (date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => i))::date;
    name := format('ledger_entries_y%sm%s', to_char(m, 'YYYY'), to_char(m, 'MM'));
    IF to_regclass(name) IS NULL THEN
      EXECUTE format(
        'CREATE TABLE %I PARTITION OF ledger_entries FOR VALUES FROM (%L) TO (%L)',
        name, (m::timestamp AT TIME ZONE 'UTC'), ((m + interval '1 month')::timestamp AT TIME ZONE 'UTC'));
      EXECUTE format(
        'CREATE TRIGGER %I BEFORE TRUNCATE ON %I FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change()',
        name || '_no_truncate', name);
      created := created + 1;
    END IF;
  END LOOP;
  RETURN created;
END $$;
SELECT ledger_ensure_partitions(3);

-- Tenant isolation, enforced by Postgres even when a query forgets its WHERE clause.
ALTER TABLE ledger_entries ENABLE ROW LEVEL SECURITY;
ALTER TABLE ledger_entries FORCE ROW LEVEL SECURITY;
ALTER TABLE ledger_sequence ENABLE ROW LEVEL SECURITY;
ALTER TABLE ledger_sequence FORCE ROW LEVEL SECURITY;
ALTER TABLE ledger_heads ENABLE ROW LEVEL SECURITY;
ALTER TABLE ledger_heads FORCE ROW LEVEL SECURITY;
ALTER TABLE ledger_checkpoints ENABLE ROW LEVEL SECURITY;
ALTER TABLE ledger_checkpoints FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON ledger_entries
  USING (tenant_id = current_setting('app.tenant_id', true))
  WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
CREATE POLICY tenant_isolation ON ledger_sequence
  USING (tenant_id = current_setting('app.tenant_id', true))
  WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
CREATE POLICY tenant_isolation ON ledger_heads
  USING (tenant_id = current_setting('app.tenant_id', true))
  WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
CREATE POLICY tenant_isolation ON ledger_checkpoints
  USING (tenant_id = current_setting('app.tenant_id', true))
  WITH CHECK (tenant_id = current_setting('app.tenant_id', true));

-- The runtime role: INSERT and SELECT on the ledger, nothing more.
GRANT SELECT, INSERT ON ledger_entries, ledger_sequence, ledger_checkpoints, ledger_signing_keys, ledger_tenants TO ${app_role};
GRANT SELECT, INSERT, UPDATE ON ledger_heads, consumer_offsets TO ${app_role};
GRANT USAGE ON SEQUENCE ledger_checkpoints_id_seq TO ${app_role};
REVOKE ALL ON FUNCTION ledger_ensure_partitions(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ledger_ensure_partitions(integer) TO ${app_role};
