import type { KafkaMessage } from 'kafkajs';
import { buildEvent, ContractViolation, newId } from '@flow8/contracts';
import { deadLetterRecord } from './consumer';
import { createOutbox } from './outbox';

/** A stand-in for a transaction client: records the statements it is given. */
function recordingTx() {
  const calls: Array<{ sql: string; args: unknown[] }> = [];
  return {
    calls,
    query: async (sql: string, args: unknown[] = []) => {
      calls.push({ sql, args });
      return { rows: [], rowCount: 1 };
    },
  };
}

function tenantCreated() {
  const tenantId = newId('ten');
  return buildEvent({
    type: 'identity.tenant.created',
    tenantId,
    actor: { type: 'operator', id: 'operator', ip: null },
    resource: { type: 'tenant', id: tenantId },
    payload: { tenantId, name: 'Acme', slug: 'acme' },
    traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
  });
}

describe('outbox', () => {
  test('writes the event to its domain topic under the prefix, keyed by tenant, with trace headers', async () => {
    const tx = recordingTx();
    const e = tenantCreated();
    await createOutbox({ topicPrefix: 'p1.' }).add(tx as never, e);
    expect(tx.calls).toHaveLength(1);
    const [eventId, tenantId, type, topic, value, headers] = tx.calls[0]!.args as [
      string,
      string,
      string,
      string,
      Buffer,
      Record<string, string>,
    ];
    expect({ eventId, tenantId, type, topic }).toEqual({
      eventId: e.id,
      tenantId: e.tenantId,
      type: e.type,
      topic: 'p1.flow8.identity.events.v1',
    });
    expect(JSON.parse(value.toString('utf8'))).toEqual(e);
    expect(headers).toMatchObject({ traceparent: e.traceparent, 'flow8-event-id': e.id, 'flow8-event-type': e.type });
  });

  test('refuses an event that violates its contract before touching the database', async () => {
    const tx = recordingTx();
    const bad = { ...tenantCreated(), payload: { tenantId: 'x', name: '', slug: 'NO' } };
    await expect(createOutbox().add(tx as never, bad as never)).rejects.toBeInstanceOf(ContractViolation);
    expect(tx.calls).toHaveLength(0);
  });

  test('refuses an event that is not I-JSON (the ledger could not hash it), saying where', async () => {
    const tx = recordingTx();
    const e = tenantCreated();
    const bad = { ...e, purpose: 'sync \ud83d' }; // half of a surrogate pair: JSON.stringify would pass it on
    const err = await createOutbox()
      .add(tx as never, bad)
      .catch((x: unknown) => x);
    expect(err).toBeInstanceOf(ContractViolation);
    expect((err as Error).message).toMatch(/\$\.purpose: string contains a lone UTF-16 surrogate .*I-JSON/);
    expect(tx.calls).toHaveLength(0);
  });
});

describe('outbox.emit', () => {
  test('builds the envelope (fresh id, UTC time, no trace outside a span), validates it and writes it', async () => {
    const tx = recordingTx();
    const tenantId = newId('ten');
    const before = Date.now();
    const e = await createOutbox().emit(tx as never, {
      type: 'identity.tenant.created',
      tenantId,
      actor: { type: 'operator', id: 'operator', ip: null },
      resource: { type: 'tenant', id: tenantId },
      payload: { tenantId, name: 'Acme', slug: 'acme' },
      purpose: 'onboarding',
    });
    expect(e.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(Date.parse(e.occurredAt)).toBeGreaterThanOrEqual(before - 1);
    expect(e).toMatchObject({ tenantId, purpose: 'onboarding', traceparent: null });
    expect(tx.calls).toHaveLength(1);
    expect(JSON.parse((tx.calls[0]!.args[4] as Buffer).toString('utf8'))).toEqual(e);
  });

  test('refuses a fact that violates its contract before touching the database', async () => {
    const tx = recordingTx();
    const tenantId = newId('ten');
    await expect(
      createOutbox().emit(tx as never, {
        type: 'identity.tenant.created',
        tenantId,
        actor: { type: 'operator', id: 'operator', ip: null },
        resource: { type: 'tenant', id: tenantId },
        payload: { tenantId, name: '', slug: 'NO' },
      }),
    ).rejects.toBeInstanceOf(ContractViolation);
    expect(tx.calls).toHaveLength(0);
  });
});

describe('dead letters', () => {
  test('keep the original bytes, key, headers and source position', () => {
    const message = {
      key: Buffer.from('ten_x'),
      value: Buffer.from('{"broken'),
      offset: '42',
      headers: { traceparent: Buffer.from('00-abc'), multi: [Buffer.from('a'), Buffer.from('b')] },
      timestamp: '0',
      attributes: 0,
      size: 0,
    } as unknown as KafkaMessage;
    const d = deadLetterRecord({
      topic: 't',
      partition: 2,
      message,
      reason: 'MALFORMED_JSON',
      errors: ['bad'],
      groupId: 'g',
    });
    expect(d).toMatchObject({
      source: { topic: 't', partition: 2, offset: '42' },
      reason: 'MALFORMED_JSON',
      errors: ['bad'],
      consumerGroup: 'g',
      key: 'ten_x',
      headers: { traceparent: '00-abc', multi: 'a' },
    });
    expect(Buffer.from(d.valueBase64!, 'base64').toString()).toBe('{"broken');
  });
});
