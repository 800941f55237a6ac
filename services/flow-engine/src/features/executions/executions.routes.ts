// Internal routes of runs and history, reached through the gateway with the caller's signed
// internal identity (the route table in @flow8/api holds their public rows and schemas):
//   POST /v1/flows/:id/executions     manual run of the published version    flows:execute
//   GET  /v1/executions               history (flowId, status; cursor pages) executions:read
//   GET  /v1/executions/:id           one execution with its step runs       executions:read
//   POST /v1/executions/:id/cancel    cancel a running execution             flows:execute
// Order of checks: the role (route level), then the row (another company's id is not found, like
// an unknown id), then the grants on that flow / partition. Inputs are never logged.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ValidateFunction } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { flows as api } from '@flow8/api';
import { withTenant } from '@flow8/db';
import { AppError, decodeCursor, page } from '@flow8/http';
import { callerOf, type Access } from '../../access';
import { compileFlow } from '../flows/definition/compile';
import type { Json } from '../flows/definition/types';
import * as flowsRepo from '../flows/flows.repo';
import type { ExecutionsService } from './executions.service';
import type { ExecutionStatus } from './executions.repo';
import { executionDetail, executionView, listExecutions } from './executions.read';

type IdParams = { id: string };

const notFound = (what: string) => new AppError('NOT_FOUND', `No such ${what}`);

/** Validators of published versions' input schemas, by flow and version (immutable, so cacheable). */
function inputValidators(max = 500) {
  const ajv = new Ajv2020({ allErrors: true, strict: false, allowUnionTypes: true });
  const cache = new Map<string, ValidateFunction>();
  return (key: string, schema: object): ValidateFunction => {
    let v = cache.get(key);
    if (!v) {
      v = ajv.compile(schema);
      if (cache.size >= max) cache.delete(cache.keys().next().value!);
      cache.set(key, v);
    }
    return v;
  };
}

/** Each problem names the field (JSON pointer into the input) — never the value. */
function inputProblems(v: ValidateFunction): { pointer: string; message: string }[] {
  return (v.errors ?? []).map((e) => {
    const missing = (e.params as { missingProperty?: string }).missingProperty;
    const extra = (e.params as { additionalProperty?: string }).additionalProperty;
    const field = missing ?? extra;
    return { pointer: `${e.instancePath}${field ? `/${field}` : ''}` || '/', message: e.message ?? 'is not valid' };
  });
}

export function registerExecutionRoutes(
  app: FastifyInstance,
  deps: {
    pool: Parameters<typeof withTenant>[0];
    executions: Pick<ExecutionsService, 'startExecution' | 'cancelExecution' | 'getExecution'>;
    access: Access;
    onRequest: (req: FastifyRequest) => Promise<void>;
  },
): void {
  const { pool, executions, access, onRequest } = deps;
  const validatorOf = inputValidators();

  app.post('/v1/flows/:id/executions', { schema: api.runFlow, onRequest }, async (req, reply) => {
    const caller = callerOf(req);
    const flowId = (req.params as IdParams).id;
    await access.authorize(caller, 'flows:execute');
    const found = await withTenant(pool, caller.tenantId, async (tx) => {
      const f = await flowsRepo.getFlow(tx, flowId);
      if (!f) return null;
      const v = f.published_version === null ? null : await flowsRepo.getVersion(tx, flowId, f.published_version);
      return { f, v };
    });
    if (!found) throw notFound('flow');
    const { f, v } = found;
    await access.authorize(caller, 'flows:execute', { type: 'flow', id: f.id, partitionId: f.partition_id });
    if (f.status !== 'published' || !v) throw new AppError('CONFLICT', 'The flow has no published version to run');
    const compiled = compileFlow(v.definition);
    if (!compiled.ok) throw new AppError('CONFLICT', 'The published version no longer validates on this engine');
    const def = compiled.flow.definition;
    const validate = validatorOf(`${f.id}:${v.version}`, def.inputSchema);
    if (!validate(req.body)) {
      const problems = inputProblems(validate);
      throw new AppError(
        'BAD_REQUEST',
        `The input is not valid: ${problems.map((p) => `${p.pointer} ${p.message}`).join('; ')}`,
        {
          details: { problems },
        },
      );
    }
    const { executionId } = await executions.startExecution(
      caller.tenantId,
      { flowId: f.id, version: v.version, definition: def },
      req.body as Json,
      caller.actor,
    );
    const started = await executions.getExecution(caller.tenantId, executionId);
    if (!started) throw notFound('execution');
    return reply.code(201).send(executionView(started.execution));
  });

  app.get('/v1/executions', { schema: api.listExecutions, onRequest }, async (req) => {
    const caller = callerOf(req);
    await access.authorize(caller, 'executions:read');
    const q = req.query as { limit: number; cursor?: string; flowId?: string; status?: ExecutionStatus };
    const afterId = q.cursor === undefined ? null : decodeCursor(q.cursor, 'exe');
    const may = await access.allowedFilter(caller, 'executions:read');
    const rows = await withTenant(pool, caller.tenantId, (tx) =>
      listExecutions(tx, {
        afterId,
        limit: q.limit + 1,
        ...(q.flowId ? { flowId: q.flowId } : {}),
        ...(q.status ? { status: q.status } : {}),
      }),
    );
    // The page is cut before filtering, so the cursor moves on even when grants hide rows of it.
    const p = page(rows, q.limit, (r) => r);
    return {
      items: p.items
        .filter((r) => may({ type: 'execution', id: r.id, flowId: r.flow_id, partitionId: r.partition_id }))
        .map(executionView),
      nextCursor: p.nextCursor,
    };
  });

  app.get('/v1/executions/:id', { schema: api.getExecution, onRequest }, async (req) => {
    const caller = callerOf(req);
    await access.authorize(caller, 'executions:read');
    const found = await executions.getExecution(caller.tenantId, (req.params as IdParams).id);
    if (!found) throw notFound('execution');
    const e = found.execution;
    await access.authorize(caller, 'executions:read', {
      type: 'execution',
      id: e.id,
      flowId: e.flow_id,
      partitionId: e.definition.partitionId ?? null,
    });
    return executionDetail(e, found.steps);
  });

  app.post('/v1/executions/:id/cancel', { schema: api.cancelExecution, onRequest }, async (req) => {
    const caller = callerOf(req);
    const id = (req.params as IdParams).id;
    await access.authorize(caller, 'flows:execute');
    const found = await executions.getExecution(caller.tenantId, id);
    if (!found) throw notFound('execution');
    const e = found.execution;
    await access.authorize(caller, 'flows:execute', {
      type: 'flow',
      id: e.flow_id,
      partitionId: e.definition.partitionId ?? null,
    });
    if (!(await executions.cancelExecution(caller.tenantId, id)))
      throw new AppError('CONFLICT', `The execution already ended (${e.status})`);
    const after = await executions.getExecution(caller.tenantId, id);
    return executionView(after!.execution);
  });
}
