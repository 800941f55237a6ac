-- A partition's optional description (docs/identity-and-access.md § Partitions). Free text an
-- Admin writes: kept here only, never put into an event.
ALTER TABLE partitions
  ADD COLUMN description text CHECK (description IS NULL OR length(description) <= 2000);
