// The flows feature against the real Postgres: versions are immutable, every save is a version,
// the lifecycle holds, each change commits with its fact event, and another company's flow is
// not found (row-level security), exactly like an unknown id.
import { fileURLToPath } from 'node:url';
import { OUTBOX_MIGRATIONS_DIR, createOutbox } from '@flow8/bus';
import { newId } from '@flow8/contracts';
import { isAppError } from '@flow8/http';
import { freshDatabase, type TestDatabase } from '@flow8/testkit';
import { ManualClock } from '../src/runtime/clock';
import { echoFlow, invoiceFlow } from '../src/features/flows/definition/examples';
import { createFlowService, type FlowCaller } from '../src/features/flows/flows.service';

let db: TestDatabase;
beforeAll(async () => {
  db = await freshDatabase('FLOW', [
    { component: 'bus', dir: OUTBOX_MIGRATIONS_DIR },
    { component: 'flow-engine', dir: fileURLToPath(new URL('../migrations', import.meta.url)) },
  ]);
});
afterAll(async () => {
  await db?.drop();
});

const clock = new ManualClock(Date.UTC(2026, 3, 3, 14, 14));
const companyA: FlowCaller = { tenantId: newId('ten'), actor: { type: 'user', id: newId('usr'), ip: '203.0.113.7' } };
const companyB: FlowCaller = { tenantId: newId('ten'), actor: { type: 'user', id: newId('usr'), ip: '198.51.100.9' } };
const service = () => createFlowService({ pool: db.app, outbox: createOutbox(), clock, authorize: async () => {} });

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    if (isAppError(e)) return e.code;
    throw e;
  }
}

async function eventTypes(flowId: string): Promise<string[]> {
  const r = await db.admin.query<{ type: string }>(
    `SELECT event_type AS type FROM outbox WHERE convert_from(value, 'UTF8')::jsonb->'resource'->>'id' = $1 ORDER BY id`,
    [flowId],
  );
  return r.rows.map((x) => x.type);
}

describe('flows', () => {
  it('create → save → publish → archive, each with its event, every save a new version', async () => {
    const flows = service();
    const f = await flows.create(companyA, invoiceFlow());
    expect(f).toMatchObject({ status: 'draft', latestVersion: 1, publishedVersion: null, name: 'Invoice approval' });
    const v2 = await flows.saveVersion(companyA, f.id, { ...invoiceFlow(), name: 'Invoice approval v2' });
    expect(v2.version).toBe(2);
    expect((await flows.versions(companyA, f.id)).map((v) => v.version)).toEqual([2, 1]);
    expect((await flows.version(companyA, f.id, 1)).definition).toEqual(invoiceFlow());
    const published = await flows.publish(companyA, f.id, 1);
    expect(published).toMatchObject({
      status: 'published',
      publishedVersion: 1,
      latestVersion: 2,
      name: 'Invoice approval v2',
    });
    const archived = await flows.archive(companyA, f.id);
    expect(archived.status).toBe('archived');
    expect(await code(flows.saveVersion(companyA, f.id, echoFlow()))).toBe('CONFLICT');
    expect(await code(flows.publish(companyA, f.id, 2))).toBe('CONFLICT');
    expect(await eventTypes(f.id)).toEqual([
      'flow.flow.created',
      'flow.version.saved',
      'flow.version.published',
      'flow.flow.archived',
    ]);
  });

  it('an invalid definition is refused with every problem and its pointer, and nothing is stored', async () => {
    const bad = {
      ...echoFlow(),
      flowlets: [
        { id: 'echo', kind: 'action', integration: 'test', operation: 'echo', input: { message: 'input.message * 2' } },
      ],
    };
    try {
      await service().create(companyA, bad);
      throw new Error('accepted');
    } catch (e) {
      expect(isAppError(e) && e.code).toBe('BAD_REQUEST');
      const details = (e as { details?: { problems: { pointer: string }[] } }).details;
      expect(details?.problems.map((p) => p.pointer)).toEqual(['/flowlets/0/input/message']);
    }
  });

  it("another company's flow answers exactly like an unknown id", async () => {
    const flows = service();
    const f = await flows.create(companyA, echoFlow());
    for (const op of [
      () => flows.get(companyB, f.id),
      () => flows.versions(companyB, f.id),
      () => flows.version(companyB, f.id, 1),
      () => flows.saveVersion(companyB, f.id, echoFlow()),
      () => flows.publish(companyB, f.id, 1),
      () => flows.archive(companyB, f.id),
    ]) {
      expect(await code(op())).toBe('NOT_FOUND');
    }
    expect(await code(flows.get(companyB, newId('flw')))).toBe('NOT_FOUND');
    expect((await flows.list(companyB, { limit: 50 })).items).toEqual([]);
    expect((await flows.list(companyA, { limit: 50 })).items.map((x) => x.id)).toContain(f.id);
  });

  it('a saved version cannot be changed or deleted, not even by a superuser; the owner is bound by RLS too', async () => {
    const f = await service().create(companyA, echoFlow());
    await expect(
      db.app.query(`UPDATE flow_versions SET definition = '{}'::jsonb WHERE flow_id = $1`, [f.id]),
    ).rejects.toThrow(/permission denied/);
    // FORCE ROW LEVEL SECURITY: the table owner without a company sees no row at all.
    expect((await db.owner.query(`SELECT 1 FROM flow_versions WHERE flow_id = $1`, [f.id])).rowCount).toBe(0);
    await expect(db.admin.query(`UPDATE flow_versions SET saved_by = 'x' WHERE flow_id = $1`, [f.id])).rejects.toThrow(
      /immutable/,
    );
    await expect(db.admin.query(`DELETE FROM flow_versions WHERE flow_id = $1`, [f.id])).rejects.toThrow(/immutable/);
  });
});
