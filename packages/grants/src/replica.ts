// A service's local copy of auth's entity grants — and of the principals they belong to (users
// with their role, API keys with owner and scopes: principals.ts) — kept current from the
// identity topic by one consumer.
//
// Why a copy: DESIGN § Security model — decisions are made in-process from replicated grants, so
// a service never calls auth on a request path and keeps deciding while auth is down.
//
// Exactly what is applied: identity.grant.given inserts the grant unless the copy already knows
// it; identity.grant.removed marks it removed (inserting a tombstone if the "given" was never
// seen). Both are idempotent and commute, so a batch redelivered after a rebalance, or replayed
// in any order, leaves the same rows. Principal events (principals.ts) are applied in topic order.
// The partition's next offset is stored in the same transaction, and a batch skips the offsets
// that transaction already covers, so a batch redelivered after a rebalance never applies an
// older event again (a user demoted, then "created" again by a replay, would briefly regain their
// old role). Readiness compares the stored offsets with the topic's end at start-up.
//
// Freshness: until the copy has read everything that was on the topic when the service started,
// grantsOf() refuses (GrantReplicaNotReady → 503) instead of deciding from a partial copy — a
// partial copy can miss a narrowing grant and so allow too much. After that a change reaches the
// copy within the consumer's lag (milliseconds on a healthy bus; `lagMs` in state()).
import type { Grant } from '@flow8/authz';
import { createEventConsumer, topicEndOffsets, type ConsumedEvent, type Kafka, type Publisher } from '@flow8/bus';
import { eventsTopic, type GrantGivenPayload, type GrantRemovedPayload } from '@flow8/contracts';
import { setTenant, withTenant, withTransaction, type Pool, type Queryable } from '@flow8/db';
import type { Logger } from '@flow8/telemetry';
import {
  applyPrincipalEvent,
  isPrincipalEvent,
  livePrincipal,
  type PrincipalEvent,
  type ReplicatedPrincipal,
} from './principals';

export class GrantReplicaNotReady extends Error {
  constructor() {
    super('the local copy of the entity grants is still catching up with the identity topic');
    this.name = 'GrantReplicaNotReady';
  }
}

export interface GrantPrincipalRef {
  type: 'user' | 'api_key';
  id: string;
}

export interface GrantReplicaOptions {
  kafka: Kafka;
  pool: Pool;
  /** The service's consumer group for the copy, e.g. `credential-vault.grants`. */
  groupId: string;
  topicPrefix: string;
  deadLetters: Publisher;
  logger: Logger;
}

export interface GrantReplicaState {
  caughtUp: boolean;
  /** Events applied since start (grants and principals; other identity events are skipped). */
  applied: number;
  /** How old the newest applied change was when it was applied, in ms (null before the first). */
  lagMs: number | null;
}

type GrantEvent =
  | { type: 'identity.grant.given'; payload: GrantGivenPayload }
  | {
      type: 'identity.grant.removed';
      payload: GrantRemovedPayload;
    };

type Applied = (GrantEvent | PrincipalEvent) & { tenantId: string; occurredAt: string };

/** The events the copy applies (grants and principals); other identity events are skipped. */
function identityEventOf(e: ConsumedEvent): Applied | null {
  const ev = e.event as unknown as { type: string; tenantId: string; occurredAt: string; payload: unknown };
  if (ev.type === 'identity.grant.given' || ev.type === 'identity.grant.removed' || isPrincipalEvent(ev))
    return ev as Applied;
  return null;
}

async function applyEvent(tx: Queryable, ev: Applied): Promise<void> {
  if (ev.type === 'identity.grant.given' || ev.type === 'identity.grant.removed') return applyGrantEvent(tx, ev);
  await setTenant(tx, ev.tenantId);
  return applyPrincipalEvent(tx, ev);
}

/** Applies one grant event inside the caller's transaction (tenant set per event for RLS). */
export async function applyGrantEvent(
  tx: Queryable,
  ev: GrantEvent & { tenantId: string; occurredAt: string },
): Promise<void> {
  await setTenant(tx, ev.tenantId);
  const p = ev.payload;
  const values = [
    ev.tenantId,
    p.grantId,
    p.principal.type,
    p.principal.id,
    p.resource.type,
    p.resource.id,
    p.actions,
    ev.occurredAt,
  ];
  if (ev.type === 'identity.grant.given') {
    await tx.query(
      `INSERT INTO grant_replica
         (tenant_id, grant_id, principal_type, principal_id, resource_type, resource_id, actions, given_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT (tenant_id, grant_id) DO UPDATE SET given_at = EXCLUDED.given_at
         WHERE grant_replica.given_at IS NULL`,
      values,
    );
  } else {
    await tx.query(
      `INSERT INTO grant_replica
         (tenant_id, grant_id, principal_type, principal_id, resource_type, resource_id, actions, removed, removed_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, true, $8)
       ON CONFLICT (tenant_id, grant_id) DO UPDATE SET removed = true, removed_at = EXCLUDED.removed_at`,
      values,
    );
  }
}

/** One live grant as grant_replica holds it (grantsOfPrincipals and liveGrantsJsonSql read these columns). */
export interface GrantReplicaRow {
  grant_id: string;
  principal_type: 'user' | 'api_key';
  principal_id: string;
  resource_type: Grant['resource']['type'];
  resource_id: string;
  actions: string[];
}

/** The rows of these principals as grants (the SQL matched principal ids only; this matches types). */
export function grantsFromRows(rows: readonly GrantReplicaRow[], principals: readonly GrantPrincipalRef[]): Grant[] {
  const wanted = new Set(principals.map((p) => `${p.type}:${p.id}`));
  return rows
    .filter((r) => wanted.has(`${r.principal_type}:${r.principal_id}`))
    .map((r) => ({
      id: r.grant_id,
      principal: { type: r.principal_type, id: r.principal_id },
      resource: { type: r.resource_type, id: r.resource_id },
      actions: r.actions,
    }));
}

/**
 * A SQL expression whose value is the live grants of principal ids `idsParam` (a text[] bind
 * parameter, e.g. `$3`) in the company `tenantExpr` (a column or parameter of the caller's
 * statement), as a json array of GrantReplicaRow — for a caller that reads grants in the same
 * statement as its other rows (one round trip, the same snapshot). Same rows as grantsOfPrincipals;
 * turn them into grants with grantsFromRows. Both arguments are SQL written by the caller, never data.
 */
export function liveGrantsJsonSql(tenantExpr: string, idsParam: string): string {
  return `(SELECT coalesce(json_agg(json_build_object('grant_id', g.grant_id, 'principal_type', g.principal_type,
            'principal_id', g.principal_id, 'resource_type', g.resource_type, 'resource_id', g.resource_id,
            'actions', g.actions) ORDER BY g.grant_id), '[]'::json)
     FROM grant_replica g
    WHERE g.tenant_id = ${tenantExpr} AND NOT g.removed AND g.principal_id = ANY(${idsParam}::text[]))`;
}

/** The live grants of these principals in one company (RLS-scoped by the caller's transaction). */
export async function grantsOfPrincipals(
  q: Queryable,
  tenantId: string,
  principals: readonly GrantPrincipalRef[],
): Promise<Grant[]> {
  if (principals.length === 0) return [];
  const { rows } = await q.query<GrantReplicaRow>(
    `SELECT grant_id, principal_type, principal_id, resource_type, resource_id, actions
       FROM grant_replica
      WHERE tenant_id = $1 AND NOT removed AND principal_id = ANY($2::text[])
      ORDER BY grant_id`,
    [tenantId, principals.map((p) => p.id)],
  );
  return grantsFromRows(rows, principals);
}

export function createGrantReplica(opts: GrantReplicaOptions) {
  const topic = eventsTopic('identity', opts.topicPrefix);
  const state: GrantReplicaState = { caughtUp: false, applied: 0, lagMs: null };
  /** End offsets of the topic at start-up: the copy is complete once it has read up to them. */
  let target: Map<number, bigint> | null = null;

  async function checkCaughtUp(): Promise<boolean> {
    if (state.caughtUp) return true;
    if (!target) return false;
    const { rows } = await opts.pool.query<{ partition: number; next_offset: string }>(
      'SELECT partition, next_offset FROM grant_replica_progress WHERE topic = $1',
      [topic],
    );
    const done = new Map(rows.map((r) => [r.partition, BigInt(r.next_offset)]));
    const complete = [...target].every(([partition, end]) => end === 0n || (done.get(partition) ?? 0n) >= end);
    if (complete) {
      state.caughtUp = true;
      opts.logger.info({ topic, applied: state.applied }, 'grant replica caught up with the identity topic');
    }
    return complete;
  }

  /**
   * The stored progress is the truth. With none stored for the topic (a new database, a copy
   * cleared to be rebuilt, or migration 0002, which cleared it so principals are read from the
   * start), the consumer group may still hold offsets past events the copy never applied: move
   * the group back to the beginning first. Refused while another replica already consumes with the
   * group (it started, so it rewound, or is reading what it needs); then nothing is lost.
   */
  async function rewindIfNoProgress(): Promise<void> {
    const { rows } = await opts.pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM grant_replica_progress WHERE topic = $1',
      [topic],
    );
    if ((rows[0]?.n ?? 0) > 0) return;
    const admin = opts.kafka.admin();
    await admin.connect();
    try {
      const groups = await admin.describeGroups([opts.groupId]);
      if ((groups.groups[0]?.members.length ?? 0) > 0) return;
      await admin.resetOffsets({ groupId: opts.groupId, topic, earliest: true });
      opts.logger.info(
        { topic, groupId: opts.groupId },
        'no stored progress: the copy reads the identity topic from the beginning',
      );
    } catch (e) {
      opts.logger.warn({ err: e, topic, groupId: opts.groupId }, 'could not rewind the consumer group of the copy');
    } finally {
      await admin.disconnect();
    }
  }

  const consumer = createEventConsumer({
    kafka: opts.kafka,
    groupId: opts.groupId,
    topics: [topic],
    deadLetters: opts.deadLetters,
    logger: opts.logger,
    fromBeginning: true,
    handleBatch: async (batch) => {
      const applied = await withTransaction(opts.pool, async (tx) => {
        // The row lock serialises two replicas handling the same partition during a rebalance,
        // and the stored offset says which of this batch's events are already applied.
        await tx.query(
          `INSERT INTO grant_replica_progress (topic, partition, next_offset) VALUES ($1, $2, 0)
           ON CONFLICT (topic, partition) DO NOTHING`,
          [batch.topic, batch.partition],
        );
        const { rows } = await tx.query<{ next_offset: string }>(
          'SELECT next_offset FROM grant_replica_progress WHERE topic = $1 AND partition = $2 FOR UPDATE',
          [batch.topic, batch.partition],
        );
        const from = BigInt(rows[0]?.next_offset ?? '0');
        const events = batch.events
          .filter((e) => BigInt(e.offset) >= from)
          .map((e) => identityEventOf(e))
          .filter((e) => e !== null);
        for (const ev of events) await applyEvent(tx, ev);
        await tx.query(
          `UPDATE grant_replica_progress SET next_offset = GREATEST(next_offset, $3), updated_at = now()
            WHERE topic = $1 AND partition = $2`,
          [batch.topic, batch.partition, (BigInt(batch.lastOffset) + 1n).toString()],
        );
        return events;
      });
      state.applied += applied.length;
      const last = applied.at(-1);
      if (last) state.lagMs = Math.max(0, Date.now() - Date.parse(last.occurredAt));
      if (!state.caughtUp) await checkCaughtUp();
    },
  });

  return {
    topic,
    /** Reads the topic's end offsets (the catch-up target), then starts consuming. */
    async start(): Promise<void> {
      target = await topicEndOffsets(opts.kafka, topic);
      await checkCaughtUp();
      await rewindIfNoProgress();
      await consumer.start();
    },
    async stop(): Promise<void> {
      await consumer.stop();
    },
    state: (): GrantReplicaState => ({ ...state }),
    /** For the readiness probe: throws until the copy has caught up. */
    async readiness(): Promise<void> {
      if (!(await checkCaughtUp())) throw new GrantReplicaNotReady();
    },
    /**
     * The live grants of these principals (for an API key: the key and its owner). Refuses while
     * the copy is still catching up, rather than decide from part of it.
     */
    async grantsOf(tenantId: string, principals: readonly GrantPrincipalRef[], tx?: Queryable): Promise<Grant[]> {
      if (!state.caughtUp && !(await checkCaughtUp())) throw new GrantReplicaNotReady();
      if (tx) return grantsOfPrincipals(tx, tenantId, principals);
      return withTenant(opts.pool, tenantId, (c) => grantsOfPrincipals(c, tenantId, principals));
    },
    /**
     * The live principal `id` of the company with its role (and, for an API key, its scopes and
     * owner) — or null when the copy does not know it as a live principal of that company.
     * Refuses while the copy is still catching up.
     */
    async principalOf(tenantId: string, id: string, tx?: Queryable): Promise<ReplicatedPrincipal | null> {
      if (!state.caughtUp && !(await checkCaughtUp())) throw new GrantReplicaNotReady();
      if (tx) return livePrincipal(tx, tenantId, id);
      return withTenant(opts.pool, tenantId, (c) => livePrincipal(c, tenantId, id));
    },
  };
}

export type GrantReplica = ReturnType<typeof createGrantReplica>;
