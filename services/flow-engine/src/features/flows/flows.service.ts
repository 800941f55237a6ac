// Flows: create, save a new immutable version, publish a version, archive, read. Each change and
// its fact event commit in one tenant transaction (outbox.emit). Validation at save reports
// every problem with its JSON pointer (400 BAD_REQUEST, details.problems). Authorization is a
// dependency: the service asks `authorize` (authz + grants, wired by the service) before acting,
// and another company's flow is simply not found (row-level security), like an unknown id.
import { createHash } from 'node:crypto';
import type { Outbox } from '@flow8/bus';
import { newId, type Actor } from '@flow8/contracts';
import { withTenant, type Queryable } from '@flow8/db';
import { AppError, decodeCursor, page } from '@flow8/http';
import type { Clock } from '../../runtime/clock';
import { compileFlow, type CompileOptions } from './definition/compile';
import type { FlowDefinition, Json } from './definition/types';
import * as repo from './flows.repo';
import { lifecycle } from './lifecycle';

export interface FlowCaller {
  tenantId: string;
  actor: Actor;
}
export type FlowPermission = 'flows:read' | 'flows:write';

export interface FlowServiceDeps {
  pool: Parameters<typeof withTenant>[0];
  outbox: Pick<Outbox, 'emit'>;
  clock: Clock;
  /** Throws AppError FORBIDDEN (with the decision's reason) when the caller may not; `flowId` null = create/list. */
  authorize: (caller: FlowCaller, permission: FlowPermission, flowId: string | null) => Promise<void>;
  compileOptions?: Partial<CompileOptions>;
}

export interface FlowView {
  id: string;
  name: string;
  partitionId: string | null;
  status: repo.FlowStatus;
  latestVersion: number;
  publishedVersion: number | null;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
  archivedAt: string | null;
}
export interface FlowVersionView {
  flowId: string;
  version: number;
  definitionSha256: string;
  savedBy: string;
  savedAt: string;
  definition?: Json;
}

function view(r: repo.FlowRow): FlowView {
  return {
    id: r.id,
    name: r.name,
    partitionId: r.partition_id,
    status: r.status,
    latestVersion: r.latest_version,
    publishedVersion: r.published_version,
    createdBy: r.created_by,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
    archivedAt: r.archived_at?.toISOString() ?? null,
  };
}
function versionView(v: Omit<repo.FlowVersionRow, 'definition'> & { definition?: Json }): FlowVersionView {
  return {
    flowId: v.flow_id,
    version: v.version,
    definitionSha256: v.definition_sha256,
    savedBy: v.saved_by,
    savedAt: v.saved_at.toISOString(),
    ...(v.definition !== undefined ? { definition: v.definition } : {}),
  };
}

const notFound = () => new AppError('NOT_FOUND', 'No such flow');

export function createFlowService(deps: FlowServiceDeps) {
  const { pool, outbox, clock, authorize } = deps;

  /** Validates; returns the definition as stored (canonical text) and its digest. */
  function checked(definition: unknown): { def: FlowDefinition; text: string; sha256: string } {
    const r = compileFlow(definition, deps.compileOptions);
    if (!r.ok) {
      throw new AppError('BAD_REQUEST', `The flow definition has ${r.problems.length} problem(s)`, {
        details: { problems: r.problems },
      });
    }
    const text = JSON.stringify(definition);
    return { def: r.flow.definition, text, sha256: createHash('sha256').update(text, 'utf8').digest('hex') };
  }

  const resource = (id: string) => ({ type: 'flow', id });

  async function loadForChange(tx: Queryable, id: string): Promise<repo.FlowRow> {
    const f = await repo.getFlow(tx, id, true);
    if (!f) throw notFound();
    return f;
  }

  return {
    async create(caller: FlowCaller, definition: unknown): Promise<FlowView> {
      await authorize(caller, 'flows:write', null);
      const { def, text, sha256 } = checked(definition);
      const now = clock.now();
      const id = newId('flw');
      return withTenant(pool, caller.tenantId, async (tx) => {
        await repo.insertFlow(tx, {
          id,
          tenant_id: caller.tenantId,
          name: def.name,
          partition_id: def.partitionId ?? null,
          created_by: caller.actor.id,
          created_at: now,
          updated_at: now,
        });
        await repo.insertVersion(tx, caller.tenantId, {
          flow_id: id,
          version: 1,
          definition: null,
          definition_text: text,
          definition_sha256: sha256,
          saved_by: caller.actor.id,
          saved_at: now,
        });
        await outbox.emit(tx, {
          type: 'flow.flow.created',
          tenantId: caller.tenantId,
          actor: caller.actor,
          resource: resource(id),
          occurredAt: now,
          payload: { flowId: id, version: 1, definitionSha256: sha256, partitionId: def.partitionId ?? null },
        });
        return view((await repo.getFlow(tx, id))!);
      });
    },

    async saveVersion(caller: FlowCaller, id: string, definition: unknown): Promise<FlowVersionView> {
      await authorize(caller, 'flows:write', id);
      const { def, text, sha256 } = checked(definition);
      const now = clock.now();
      return withTenant(pool, caller.tenantId, async (tx) => {
        const f = await loadForChange(tx, id);
        const step = lifecycle(f.status, 'save');
        if (!step.ok) throw new AppError('CONFLICT', step.reason);
        const version = f.latest_version + 1;
        await repo.insertVersion(tx, caller.tenantId, {
          flow_id: id,
          version,
          definition: null,
          definition_text: text,
          definition_sha256: sha256,
          saved_by: caller.actor.id,
          saved_at: now,
        });
        const moved = await repo.updateFlow(tx, id, f.row_version, {
          name: def.name,
          partition_id: def.partitionId ?? null,
          latest_version: version,
          updated_at: now,
        });
        if (!moved) throw new AppError('CONFLICT', 'The flow changed meanwhile; reload and save again');
        await outbox.emit(tx, {
          type: 'flow.version.saved',
          tenantId: caller.tenantId,
          actor: caller.actor,
          resource: resource(id),
          occurredAt: now,
          payload: { flowId: id, version, definitionSha256: sha256 },
        });
        return versionView({
          flow_id: id,
          version,
          definition_sha256: sha256,
          saved_by: caller.actor.id,
          saved_at: now,
        });
      });
    },

    async publish(caller: FlowCaller, id: string, version: number): Promise<FlowView> {
      await authorize(caller, 'flows:write', id);
      const now = clock.now();
      return withTenant(pool, caller.tenantId, async (tx) => {
        const f = await loadForChange(tx, id);
        const step = lifecycle(f.status, 'publish');
        if (!step.ok) throw new AppError('CONFLICT', step.reason);
        const v = await repo.getVersion(tx, id, version);
        if (!v) throw new AppError('NOT_FOUND', `Flow ${id} has no version ${version}`);
        // A stored version was valid when saved; it must still compile on this engine (caps may have tightened).
        const c = compileFlow(v.definition, deps.compileOptions);
        if (!c.ok) {
          throw new AppError('BAD_REQUEST', 'This version no longer validates', { details: { problems: c.problems } });
        }
        await repo.updateFlow(tx, id, f.row_version, {
          status: step.next,
          published_version: version,
          updated_at: now,
        });
        await outbox.emit(tx, {
          type: 'flow.version.published',
          tenantId: caller.tenantId,
          actor: caller.actor,
          resource: resource(id),
          occurredAt: now,
          payload: { flowId: id, version, definitionSha256: v.definition_sha256, previousVersion: f.published_version },
        });
        return view((await repo.getFlow(tx, id))!);
      });
    },

    async archive(caller: FlowCaller, id: string): Promise<FlowView> {
      await authorize(caller, 'flows:write', id);
      const now = clock.now();
      return withTenant(pool, caller.tenantId, async (tx) => {
        const f = await loadForChange(tx, id);
        const step = lifecycle(f.status, 'archive');
        if (!step.ok) throw new AppError('CONFLICT', step.reason);
        await repo.updateFlow(tx, id, f.row_version, { status: 'archived', archived_at: now, updated_at: now });
        await outbox.emit(tx, {
          type: 'flow.flow.archived',
          tenantId: caller.tenantId,
          actor: caller.actor,
          resource: resource(id),
          occurredAt: now,
          payload: { flowId: id, latestVersion: f.latest_version },
        });
        return view((await repo.getFlow(tx, id))!);
      });
    },

    async get(caller: FlowCaller, id: string): Promise<FlowView> {
      await authorize(caller, 'flows:read', id);
      const f = await withTenant(pool, caller.tenantId, (tx) => repo.getFlow(tx, id));
      if (!f) throw notFound();
      return view(f);
    },

    async list(
      caller: FlowCaller,
      q: { limit: number; cursor?: string },
    ): Promise<{ items: FlowView[]; nextCursor: string | null }> {
      await authorize(caller, 'flows:read', null);
      const after = q.cursor === undefined ? null : decodeCursor(q.cursor, 'flw');
      const rows = await withTenant(pool, caller.tenantId, (tx) => repo.listFlows(tx, q.limit + 1, after));
      return page(rows, q.limit, view);
    },

    async versions(caller: FlowCaller, id: string): Promise<FlowVersionView[]> {
      await authorize(caller, 'flows:read', id);
      return withTenant(pool, caller.tenantId, async (tx) => {
        if (!(await repo.getFlow(tx, id))) throw notFound();
        return (await repo.listVersions(tx, id)).map(versionView);
      });
    },

    async version(caller: FlowCaller, id: string, version: number): Promise<FlowVersionView> {
      await authorize(caller, 'flows:read', id);
      const v = await withTenant(pool, caller.tenantId, (tx) => repo.getVersion(tx, id, version));
      if (!v) throw notFound();
      return versionView(v);
    },
  };
}
export type FlowService = ReturnType<typeof createFlowService>;
