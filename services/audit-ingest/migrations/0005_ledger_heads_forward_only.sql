-- ledger_heads is the appender's lock row and the witness of each chain's newest entry. The
-- runtime role must insert a chain's genesis head and move it forward as it appends; it used to be
-- able to write anything there, e.g. move a head back to hide the newest entries from a verifier
-- that trusts the head, or point it at a hash that is not the chain's. Now a head starts at the
-- genesis (seq 0, 32 zero bytes), only ever moves forward, and only to an entry of its own chain
-- that exists (same seq, same hash); it is never deleted. Whoever owns the table can still disable
-- this trigger — which is why no running process holds the owner role (docs/operations.md).
CREATE FUNCTION ledger_heads_forward_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    IF NEW.seq <> 0 OR NEW.hash <> '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea THEN
      RAISE EXCEPTION 'a ledger head starts at the genesis (seq 0)' USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
  ELSIF TG_OP = 'UPDATE' THEN
    IF NEW.tenant_id <> OLD.tenant_id OR NEW.seq <= OLD.seq OR NOT EXISTS (
      SELECT 1 FROM ledger_entries e WHERE e.tenant_id = NEW.tenant_id AND e.seq = NEW.seq AND e.hash = NEW.hash
    ) THEN
      RAISE EXCEPTION 'a ledger head only moves forward, to an entry of its chain' USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'the audit ledger is append-only: % on % is refused', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER ledger_heads_forward_only BEFORE INSERT OR UPDATE OR DELETE ON ledger_heads
  FOR EACH ROW EXECUTE FUNCTION ledger_heads_forward_only();
CREATE TRIGGER ledger_heads_no_truncate BEFORE TRUNCATE ON ledger_heads
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
