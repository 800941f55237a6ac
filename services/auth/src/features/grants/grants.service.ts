// Data partitions and entity grants of one company (Admin only). A grant names ids only, and
// every id it names must exist in the caller's company: another company's user, key or
// partition is "not found", exactly like one that does not exist.
import type { Outbox } from '@flow8/bus';
import { validActions, validateGrant, type GrantResourceType } from '@flow8/authz';
import { newId, type GrantGivenPayload } from '@flow8/contracts';
import { pgCode, PgError, withTenant, type Pool } from '@flow8/db';
import { AppError } from '@flow8/http';
import { decodeCursor, page } from '@flow8/http';
import { authorize, who, type Caller } from '../../principal';
import { constraintOf } from '../users/users.service';
import {
  activeUserExists,
  deleteGrant,
  insertGrant,
  insertPartition,
  liveApiKeyExists,
  listGrants,
  listPartitions,
  partitionExists,
  type GrantRow,
  type PartitionRow,
} from './grants.repo';

export interface PartitionView {
  id: string;
  name: string;
  description: string | null;
  createdAt: string;
}
const partitionView = (p: PartitionRow): PartitionView => ({
  id: p.id,
  name: p.name,
  description: p.description,
  createdAt: p.createdAt.toISOString(),
});

export interface GrantView {
  id: string;
  principal: GrantRow['principal'];
  resource: GrantRow['resource'];
  actions: string[];
  createdAt: string;
  createdBy: string;
}
const grantView = (g: GrantRow): GrantView => ({
  id: g.id,
  principal: g.principal,
  resource: g.resource,
  actions: g.actions,
  createdAt: g.createdAt.toISOString(),
  createdBy: g.createdBy,
});

/** Ids only. The contract types `actions` as a 1–20 tuple; the table's CHECK guarantees that. */
const grantPayload = (g: GrantRow): GrantGivenPayload => ({
  grantId: g.id,
  principal: g.principal,
  resource: g.resource,
  actions: g.actions as GrantGivenPayload['actions'],
});

export interface GiveGrantInput {
  principal: { type: 'user' | 'api_key'; id: string };
  resource: { type: GrantResourceType; id: string };
  actions: string[];
}

export function createGrantService(deps: { pool: Pool; outbox: Pick<Outbox, 'emit'>; now?: () => Date }) {
  const { pool, outbox } = deps;
  const now = deps.now ?? (() => new Date());
  return {
    async createPartition(caller: Caller, input: { name: string; description?: string }): Promise<PartitionView> {
      authorize(who(caller), 'partitions.create');
      const name = input.name.trim();
      const description = input.description?.trim() || null;
      try {
        return await withTenant(pool, caller.tenantId, async (tx) => {
          const row = await insertPartition(tx, {
            id: newId('prt'),
            tenantId: caller.tenantId,
            name,
            description,
            createdBy: caller.actor.id,
          });
          await outbox.emit(tx, {
            type: 'identity.partition.created',
            tenantId: caller.tenantId,
            actor: caller.actor,
            resource: { type: 'partition', id: row.id },
            payload: { partitionId: row.id, name: row.name },
          });
          return partitionView(row);
        });
      } catch (e) {
        if (pgCode(e) === PgError.UNIQUE_VIOLATION && constraintOf(e) === 'partitions_tenant_name_key')
          throw new AppError('CONFLICT', 'A partition with this name already exists', { cause: e });
        throw e;
      }
    },

    async listPartitions(caller: Caller, opts: { limit: number; cursor?: string }) {
      authorize(who(caller), 'partitions.list');
      const afterId = opts.cursor ? decodeCursor(opts.cursor, 'prt') : undefined;
      const rows = await withTenant(pool, caller.tenantId, (tx) =>
        listPartitions(tx, caller.tenantId, { afterId, limit: opts.limit + 1 }),
      );
      return page(rows, opts.limit, partitionView);
    },

    async give(caller: Caller, input: GiveGrantInput): Promise<GrantView> {
      authorize(who(caller), 'grants.give');
      const problems = validateGrant(input);
      if (problems.length > 0)
        throw new AppError('BAD_REQUEST', problems.join('; '), {
          details: problems.map((message) => ({ field: 'body', message })),
        });
      const actions = validActions({ id: '', ...input });
      try {
        return await withTenant(pool, caller.tenantId, async (tx) => {
          const t = now();
          const principalOk =
            input.principal.type === 'user'
              ? await activeUserExists(tx, caller.tenantId, input.principal.id)
              : await liveApiKeyExists(tx, caller.tenantId, input.principal.id, t);
          if (!principalOk)
            throw new AppError('NOT_FOUND', input.principal.type === 'user' ? 'User not found' : 'API key not found');
          if (input.resource.type === 'partition' && !(await partitionExists(tx, caller.tenantId, input.resource.id)))
            throw new AppError('NOT_FOUND', 'Partition not found');
          const row = await insertGrant(tx, {
            id: newId('grt'),
            tenantId: caller.tenantId,
            principal: input.principal,
            resource: input.resource,
            actions,
            createdBy: caller.actor.id,
          });
          await outbox.emit(tx, {
            type: 'identity.grant.given',
            tenantId: caller.tenantId,
            actor: caller.actor,
            resource: { type: 'grant', id: row.id },
            payload: grantPayload(row),
          });
          return grantView(row);
        });
      } catch (e) {
        if (pgCode(e) === PgError.UNIQUE_VIOLATION && constraintOf(e) === 'grants_subject_resource_key')
          throw new AppError(
            'CONFLICT',
            'This principal already holds a grant on this resource; remove it and grant again to change it',
            { cause: e },
          );
        throw e;
      }
    },

    async list(caller: Caller, opts: { limit: number; cursor?: string; principalId?: string; resourceId?: string }) {
      authorize(who(caller), 'grants.list');
      const afterId = opts.cursor ? decodeCursor(opts.cursor, 'grt') : undefined;
      const rows = await withTenant(pool, caller.tenantId, (tx) =>
        listGrants(tx, caller.tenantId, { ...opts, afterId, limit: opts.limit + 1 }),
      );
      return page(rows, opts.limit, grantView);
    },

    async remove(caller: Caller, id: string): Promise<void> {
      authorize(who(caller), 'grants.remove');
      await withTenant(pool, caller.tenantId, async (tx) => {
        const row = await deleteGrant(tx, caller.tenantId, id);
        if (!row) throw new AppError('NOT_FOUND', 'Grant not found');
        await outbox.emit(tx, {
          type: 'identity.grant.removed',
          tenantId: caller.tenantId,
          actor: caller.actor,
          resource: { type: 'grant', id: row.id },
          payload: grantPayload(row),
        });
      });
    },
  };
}

export type GrantService = ReturnType<typeof createGrantService>;
