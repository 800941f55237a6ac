import { EventEmitter } from 'node:events';
import type pg from 'pg';
import { withTenant, withTransaction } from './tx';

/** A pool whose one client records what it is sent; COMMIT answers `commitAnswer`. */
function fakePool(commitAnswer = 'COMMIT') {
  const sent: string[] = [];
  let released = 0;
  const client = {
    // The client's events, as pg's Client emits them ('error' when its connection drops).
    ...EventEmitter.prototype,
    query: async (text: string) => {
      sent.push(text);
      return { command: text === 'COMMIT' ? commitAnswer : text.split(' ')[0], rows: [] };
    },
    release: () => {
      released += 1;
    },
  };
  let connects = 0;
  const pool = {
    connect: async () => {
      connects += 1;
      return client;
    },
  } as unknown as pg.Pool;
  EventEmitter.call(client as unknown as EventEmitter);
  return { pool, client: client as unknown as EventEmitter, sent, connects: () => connects, released: () => released };
}

describe('a connection that drops between statements', () => {
  it('does not crash the process; the listener is gone once the client is back in the pool', async () => {
    const f = fakePool();
    await withTransaction(f.pool, async () => {
      // Unhandled, this 'error' would throw out of emit() (and crash a real process).
      expect(() => f.client.emit('error', new Error('Connection terminated unexpectedly'))).not.toThrow();
      return 'ok';
    });
    expect(f.client.listenerCount('error')).toBe(0);
  });
});

const TENANT = 'ten_01jabcdefghjkmnpqrstvwxyz0';

describe('withTenant: BEGIN and the RLS tenant in one message', () => {
  it('sets the tenant in the BEGIN message, then commits', async () => {
    const f = fakePool();
    expect(await withTenant(f.pool, TENANT, async () => 'ok')).toBe('ok');
    expect(f.sent).toEqual([`BEGIN; SELECT set_config('app.tenant_id', '${TENANT}', true)`, 'COMMIT']);
    expect(f.released()).toBe(1);
  });

  it('keeps the isolation level', async () => {
    const f = fakePool();
    await withTenant(f.pool, TENANT, async () => 'ok', { isolation: 'repeatable read' });
    expect(f.sent[0]).toBe(
      `BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT set_config('app.tenant_id', '${TENANT}', true)`,
    );
  });

  it.each([
    [`ten_01jabcdefghjkmnpqrstvwxy', true); SELECT set_config('app.tenant_id', 'ten_x`],
    [`${TENANT}'`],
    [`${TENANT}\\`],
    ['ten_01JABCDEFGHJKMNPQRSTVWXYZ0'],
    [''],
  ])('refuses a tenant id that is not one (%j) before any SQL is sent', async (bad) => {
    const f = fakePool();
    await expect(withTenant(f.pool, bad, async () => 'secret')).rejects.toThrow('not a tenant id');
    expect(f.connects()).toBe(0);
    expect(f.sent).toEqual([]);
  });
});

describe('withTransaction', () => {
  it('returns nothing when the transaction did not commit (the server answered ROLLBACK)', async () => {
    const f = fakePool('ROLLBACK');
    await expect(withTransaction(f.pool, async () => 'secret')).rejects.toThrow(/ROLLBACK/);
    expect(f.sent.at(-1)).toBe('ROLLBACK');
  });

  it('rolls back and rethrows when the work fails', async () => {
    const f = fakePool();
    await expect(
      withTenant(f.pool, TENANT, async () => {
        throw new Error('event not written');
      }),
    ).rejects.toThrow('event not written');
    expect(f.sent).not.toContain('COMMIT');
    expect(f.sent.at(-1)).toBe('ROLLBACK');
    expect(f.released()).toBe(1);
  });
});
