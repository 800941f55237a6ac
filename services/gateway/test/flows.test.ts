// Flows and manual runs through the public gateway, end to end: auth authenticates, the gateway
// gates by the route table and forwards to the real flow engine with the caller's internal
// identity; the engine decides again with @flow8/authz and its replicated grants (over Kafka from
// auth), runs the flow through its commands topic and answers the history.
import {
  bearer,
  call,
  createCompany,
  eventually,
  login,
  must,
  randomId,
  strongPassword,
  type Session,
} from '@flow8/testkit';
import { startGateway, startUpstreams, suiteKeys } from './harness';

type Gw = Awaited<ReturnType<typeof startGateway>>;
type Up = Awaited<ReturnType<typeof startUpstreams>>;

const keys = suiteKeys();
let up: Up;
let gw: Gw;
let admin: Session;
let executor: Session;
let viewer: Session;
let designer: Session;
let executorKey: string;
let otherAdmin: Session;

/** map → condition → echo with the built-in `test` integration. */
const orderFlow = (name = 'Order notify') => ({
  schema: 'flow-definition.v1',
  name,
  purpose: 'Notify on big orders',
  legalBasis: 'contract',
  inputSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['amount', 'name'],
    properties: { amount: { type: 'number' }, name: { type: 'string' } },
  },
  triggers: [{ id: 'manual', kind: 'manual' }],
  flowlets: [
    { id: 'total', kind: 'map', output: { sum: 'input.amount', customer: 'input.name' } },
    { id: 'check', kind: 'condition', branches: [{ id: 'big', when: 'steps.total.sum > 100.0' }], otherwise: 'small' },
    {
      id: 'notify',
      kind: 'action',
      integration: 'test',
      operation: 'echo',
      input: { sum: 'steps.total.sum', who: 'steps.total.customer' },
    },
    { id: 'ignore', kind: 'map', output: { note: "'small order'" } },
  ],
  edges: [
    { from: 'total', to: 'check' },
    { from: 'check', to: 'notify', branch: 'big' },
    { from: 'check', to: 'ignore', branch: 'small' },
  ],
});

interface FlowView {
  id: string;
  status: string;
  publishedVersion: number | null;
}
interface ExecutionDetail {
  id: string;
  status: string;
  flowId: string;
  triggeredBy: { type: string; id: string };
  output: unknown;
  steps: Array<{ stepId: string; status: string }>;
}

async function newUser(role: string, company: { slug: string }, by: Session): Promise<Session> {
  const email = `${role}-${randomId().slice(0, 8)}@flows.test`;
  const password = strongPassword();
  await must(gw.url, '/v1/users', { method: 'POST', headers: by.headers, body: { email, password, role } });
  return login(gw.url, { tenant: company.slug, email, password });
}

async function publishedFlow(by: Session, name?: string): Promise<FlowView> {
  const f = await must<FlowView>(gw.url, '/v1/flows', { method: 'POST', headers: by.headers, body: orderFlow(name) });
  return must<FlowView>(gw.url, `/v1/flows/${f.id}/publish`, {
    method: 'POST',
    headers: by.headers,
    body: { version: 1 },
    status: 200,
  });
}

/** Reads the execution until it has ended (the engine runs it through Kafka). */
function finished(id: string, headers: Record<string, string>): Promise<ExecutionDetail> {
  return eventually(
    async () => {
      const r = await call(gw.url, `/v1/executions/${id}`, { headers });
      if (r.status !== 200) throw new Error(`GET execution answered ${r.status}: ${r.body}`);
      const e = r.json<ExecutionDetail>();
      return e.status === 'running' ? undefined : e;
    },
    { what: `execution ${id} ended`, timeoutMs: 30_000 },
  );
}

beforeAll(async () => {
  up = await startUpstreams(keys, { sharedPrefix: true });
  gw = await startGateway(keys, up.urls, {
    GATEWAY_RATE_LIMIT_USER: '1000000',
    GATEWAY_RATE_LIMIT_IP: '1000000',
    GATEWAY_RATE_LIMIT_TENANT: '1000000',
  });
  const co = await createCompany(gw.url, keys.operatorToken);
  admin = await login(gw.url, { tenant: co.slug, email: co.admin.email, password: co.admin.password });
  executor = await newUser('executor', co, admin);
  viewer = await newUser('viewer', co, admin);
  designer = await newUser('flow_designer', co, admin);
  executorKey = (
    await must<{ token: string }>(gw.url, '/v1/api-keys', {
      method: 'POST',
      headers: executor.headers,
      body: { name: 'runner', scopes: ['flows:execute', 'executions:read'] },
    })
  ).token;
  const other = await createCompany(gw.url, keys.operatorToken);
  otherAdmin = await login(gw.url, { tenant: other.slug, email: other.admin.email, password: other.admin.password });
}, 180_000);

afterAll(async () => {
  await gw?.stop();
  await up?.stop();
});

describe('flows and manual runs through the gateway', () => {
  it('an Admin creates and publishes; an Executor runs it by session and by API key, and reads it to succeeded', async () => {
    const f = await publishedFlow(admin);
    expect(f).toMatchObject({ status: 'published', publishedVersion: 1 });

    const bySession = await must<{ id: string; status: string }>(gw.url, `/v1/flows/${f.id}/executions`, {
      method: 'POST',
      headers: executor.headers,
      body: { amount: 250, name: 'Ada Lovelace' },
    });
    expect(bySession.status).toBe('running');
    const done = await finished(bySession.id, executor.headers);
    expect(done).toMatchObject({
      status: 'succeeded',
      flowId: f.id,
      triggeredBy: { type: 'user', id: executor.userId },
      output: { notify: { sum: 250, who: 'Ada Lovelace' } },
    });
    expect(done.steps.map((s) => [s.stepId, s.status])).toEqual([
      ['total', 'succeeded'],
      ['check', 'succeeded'],
      ['notify', 'succeeded'],
      // The branch not taken is in the history too.
      ['ignore', 'skipped'],
    ]);

    const byKey = await must<{ id: string; triggeredBy: { type: string } }>(gw.url, `/v1/flows/${f.id}/executions`, {
      method: 'POST',
      headers: bearer(executorKey),
      body: { amount: 5, name: 'Grace Hopper' },
    });
    expect(byKey.triggeredBy.type).toBe('api_key');
    const small = await finished(byKey.id, bearer(executorKey));
    expect(small.status).toBe('succeeded');
    expect(small.steps.map((s) => `${s.stepId}:${s.status}`).sort()).toEqual(
      ['total:succeeded', 'check:succeeded', 'ignore:succeeded', 'notify:skipped'].sort(),
    );

    // History: filtered by flow and status, paged with the shared cursor.
    const first = await must<{ items: Array<{ id: string }>; nextCursor: string | null }>(
      gw.url,
      `/v1/executions?flowId=${f.id}&status=succeeded&limit=1`,
      { headers: viewer.headers },
    );
    expect(first.items).toHaveLength(1);
    expect(first.nextCursor).not.toBeNull();
    const second = await must<{ items: Array<{ id: string }>; nextCursor: string | null }>(
      gw.url,
      `/v1/executions?flowId=${f.id}&status=succeeded&limit=1&cursor=${encodeURIComponent(first.nextCursor!)}`,
      { headers: viewer.headers },
    );
    expect([...first.items, ...second.items].map((e) => e.id).sort()).toEqual([bySession.id, byKey.id].sort());
    const running = await must<{ items: unknown[] }>(gw.url, `/v1/executions?flowId=${f.id}&status=running`, {
      headers: viewer.headers,
    });
    expect(running.items).toEqual([]);
  });

  it('a bad input is refused with 400 naming the field, and no execution starts', async () => {
    const f = await publishedFlow(admin);
    const r = await call(gw.url, `/v1/flows/${f.id}/executions`, {
      method: 'POST',
      headers: executor.headers,
      body: { amount: 'lots', name: 'Ada' },
    });
    expect(r.status).toBe(400);
    expect(r.json<{ error: { message: string } }>().error.message).toContain('/amount');
    const missing = await call(gw.url, `/v1/flows/${f.id}/executions`, {
      method: 'POST',
      headers: executor.headers,
      body: { amount: 3 },
    });
    expect(missing.status).toBe(400);
    expect(missing.json<{ error: { message: string } }>().error.message).toContain('/name');
    const list = await must<{ items: unknown[] }>(gw.url, `/v1/executions?flowId=${f.id}`, { headers: admin.headers });
    expect(list.items).toEqual([]);
  });

  it('a Viewer can read but neither create nor run (403); an Executor cannot edit', async () => {
    const f = await publishedFlow(admin);
    expect((await call(gw.url, `/v1/flows/${f.id}`, { headers: viewer.headers })).status).toBe(200);
    const create = await call(gw.url, '/v1/flows', { method: 'POST', headers: viewer.headers, body: orderFlow() });
    expect(create.status).toBe(403);
    const run = await call(gw.url, `/v1/flows/${f.id}/executions`, {
      method: 'POST',
      headers: viewer.headers,
      body: { amount: 1, name: 'x' },
    });
    expect(run.status).toBe(403);
    const edit = await call(gw.url, `/v1/flows/${f.id}/versions`, {
      method: 'POST',
      headers: executor.headers,
      body: orderFlow('changed'),
    });
    expect(edit.status).toBe(403);
    // Nothing ran.
    const list = await must<{ items: unknown[] }>(gw.url, `/v1/executions?flowId=${f.id}`, { headers: admin.headers });
    expect(list.items).toEqual([]);
  });

  it('a Designer with a grant on one flow edits that one and not another (the grant reaches the engine over Kafka)', async () => {
    const granted = await publishedFlow(admin, 'granted');
    const other = await publishedFlow(admin, 'not granted');
    const save = (id: string) =>
      call(gw.url, `/v1/flows/${id}/versions`, { method: 'POST', headers: designer.headers, body: orderFlow('v2') });
    await must(gw.url, '/v1/grants', {
      method: 'POST',
      headers: admin.headers,
      body: {
        principal: { type: 'user', id: designer.userId },
        resource: { type: 'flow', id: granted.id },
        actions: ['read', 'write'],
      },
    });
    // The engine's copy learns the grant from the identity topic: wait for the narrowing to apply.
    // Until it does, the Designer's role alone lets a save through: count those.
    let savedBeforeNarrowing = 0;
    const refused = await eventually(
      async () => {
        const r = await save(other.id);
        if (r.status === 201) savedBeforeNarrowing += 1;
        return r.status === 403 ? r : undefined;
      },
      { what: 'the designer is narrowed to the granted flow', timeoutMs: 30_000 },
    );
    expect(refused.json<{ error: { code: string } }>().error.code).toBe('FORBIDDEN');
    expect((await save(granted.id)).status).toBe(201);
    // The refused save stored nothing: the first version plus the saves accepted before the grant arrived.
    const versions = await must<{ items: unknown[] }>(gw.url, `/v1/flows/${other.id}/versions`, {
      headers: admin.headers,
    });
    expect(versions.items).toHaveLength(1 + savedBeforeNarrowing);
  });

  it("another company's flow and execution ids answer exactly like unknown ids (404)", async () => {
    const f = await publishedFlow(admin);
    const e = await must<{ id: string }>(gw.url, `/v1/flows/${f.id}/executions`, {
      method: 'POST',
      headers: executor.headers,
      body: { amount: 1, name: 'x' },
    });
    const unknownFlow = `flw_${randomId()}`;
    const unknownExe = `exe_${randomId()}`;
    const probes: Array<[string, string, unknown]> = [
      ['GET', '/v1/flows/:f', undefined],
      ['GET', '/v1/flows/:f/versions', undefined],
      ['POST', '/v1/flows/:f/versions', orderFlow('planted')],
      ['POST', '/v1/flows/:f/publish', { version: 1 }],
      ['POST', '/v1/flows/:f/executions', { amount: 1, name: 'x' }],
      ['GET', '/v1/executions/:e', undefined],
      ['POST', '/v1/executions/:e/cancel', undefined],
    ];
    for (const [method, path, body] of probes) {
      const send = (fid: string, eid: string) =>
        call(gw.url, path.replace(':f', fid).replace(':e', eid), {
          method,
          headers: otherAdmin.headers,
          ...(body !== undefined ? { body } : {}),
        });
      const [theirs, none] = [await send(f.id, e.id), await send(unknownFlow, unknownExe)];
      expect([method, path, theirs.status]).toEqual([method, path, 404]);
      expect(theirs.json<{ error: { message: string } }>().error.message).toBe(
        none.json<{ error: { message: string } }>().error.message,
      );
    }
    const theirList = await must<{ items: unknown[] }>(gw.url, `/v1/executions?flowId=${f.id}`, {
      headers: otherAdmin.headers,
    });
    expect(theirList.items).toEqual([]);
    // The owner's flow and run are untouched.
    expect((await must<FlowView>(gw.url, `/v1/flows/${f.id}`, { headers: admin.headers })).publishedVersion).toBe(1);
  });
});
