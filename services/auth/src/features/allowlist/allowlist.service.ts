// The company's IP allowlist. Postgres is the record; Redis is the copy every gateway replica
// reads on every request (`flow8:tenant:<id>:allowlist`, a JSON array; no key = no restriction).
// The copy is written after the commit: if Redis is down then, the request answers 503 and the
// next start-up (or the next successful PUT) heals it — see README.
import { identity } from '@flow8/api';
import type { Outbox } from '@flow8/bus';
import { withTenant, type Pool, type Queryable } from '@flow8/db';
import { AppError, parseCidrList } from '@flow8/http';
import type { Logger } from '@flow8/telemetry';
import { authorize, who, type Caller } from '../../principal';

export const MAX_CIDRS = identity.ALLOWLIST_MAX_CIDRS;

export const allowlistKey = (tenantId: string) => `flow8:tenant:${tenantId}:allowlist`;

/** The two Redis commands the mirror needs (ioredis satisfies it). */
export interface AllowlistStore {
  set(key: string, value: string): Promise<unknown>;
  del(key: string): Promise<unknown>;
}

export interface AllowlistView {
  cidrs: string[];
  updatedAt: string | null;
}

async function readAllowlist(tx: Queryable, tenantId: string): Promise<AllowlistView> {
  const { rows } = await tx.query<{ cidrs: string[]; updated_at: Date }>(
    'SELECT cidrs, updated_at FROM ip_allowlists WHERE tenant_id = $1',
    [tenantId],
  );
  const r = rows[0];
  return r ? { cidrs: r.cidrs, updatedAt: r.updated_at.toISOString() } : { cidrs: [], updatedAt: null };
}

export function createAllowlistService(deps: {
  pool: Pool;
  outbox: Pick<Outbox, 'emit'>;
  store: AllowlistStore;
  logger: Pick<Logger, 'error' | 'info'>;
  now?: () => Date;
}) {
  const { pool, outbox, store } = deps;
  const now = deps.now ?? (() => new Date());

  async function mirror(tenantId: string, cidrs: readonly string[]): Promise<void> {
    if (cidrs.length === 0) await store.del(allowlistKey(tenantId));
    else await store.set(allowlistKey(tenantId), JSON.stringify(cidrs));
  }

  return {
    async get(caller: Caller): Promise<AllowlistView> {
      authorize(who(caller), 'allowlist.read');
      return withTenant(pool, caller.tenantId, (tx) => readAllowlist(tx, caller.tenantId));
    },

    /** Replaces the list. An empty list means "no restriction". */
    async put(caller: Caller, input: { cidrs: string[] }): Promise<AllowlistView> {
      authorize(who(caller), 'allowlist.write');
      if (input.cidrs.length > MAX_CIDRS)
        throw new AppError('BAD_REQUEST', `An allowlist holds at most ${MAX_CIDRS} entries`);
      const parsed = parseCidrList(input.cidrs);
      if (!parsed.ok)
        throw new AppError('BAD_REQUEST', `Invalid CIDR: ${parsed.problems.join('; ')}`, {
          details: parsed.problems.map((message) => ({ field: 'cidrs', message })),
        });
      const cidrs = parsed.cidrs;
      const view = await withTenant(pool, caller.tenantId, async (tx) => {
        const { rows } = await tx.query<{ updated_at: Date }>(
          `INSERT INTO ip_allowlists (tenant_id, cidrs, updated_at, updated_by) VALUES ($1, $2, $3, $4)
           ON CONFLICT (tenant_id) DO UPDATE SET cidrs = EXCLUDED.cidrs, updated_at = EXCLUDED.updated_at,
             updated_by = EXCLUDED.updated_by
           RETURNING updated_at`,
          [caller.tenantId, cidrs, now(), caller.actor.id],
        );
        await outbox.emit(tx, {
          type: 'identity.allowlist.changed',
          tenantId: caller.tenantId,
          actor: caller.actor,
          resource: { type: 'ip_allowlist', id: caller.tenantId },
          payload: { count: cidrs.length, cidrs },
        });
        return { cidrs, updatedAt: rows[0]!.updated_at.toISOString() };
      });
      try {
        await mirror(caller.tenantId, cidrs);
      } catch (e) {
        deps.logger.error({ err: e, tenantId: caller.tenantId }, 'allowlist saved but not mirrored to Redis');
        throw new AppError(
          'UNAVAILABLE',
          'The allowlist was saved but could not be applied to the gateways yet; repeat the request',
          { cause: e },
        );
      }
      return view;
    },

    /**
     * Writes every company's list to Redis (and deletes the key of every company without one),
     * so a Redis that lost its data, or a mirror write that failed, is healed at start-up.
     */
    async mirrorAll(): Promise<number> {
      const { rows } = await pool.query<{ id: string }>('SELECT id FROM auth_tenant_ids() AS id');
      for (const { id } of rows) {
        const view = await withTenant(pool, id, (tx) => readAllowlist(tx, id));
        await mirror(id, view.cidrs);
      }
      deps.logger.info({ tenants: rows.length }, 'allowlists mirrored to Redis');
      return rows.length;
    },
  };
}

export type AllowlistService = ReturnType<typeof createAllowlistService>;
