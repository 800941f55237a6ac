import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { generateContracts } from './codegen';
import { canonicalize } from '@flow8/crypto';
import {
  assertValidEvent,
  buildEvent,
  ContractViolation,
  eventsTopic,
  eventsTopicPattern,
  isId,
  newId,
  parseEvent,
  topicForEvent,
  uuidv7,
  validateEvent,
} from './index';

function tenantCreated() {
  const tenantId = newId('ten');
  return buildEvent({
    type: 'identity.tenant.created',
    tenantId,
    actor: { type: 'operator', id: 'operator', ip: '127.0.0.1' },
    resource: { type: 'tenant', id: tenantId },
    payload: { tenantId, name: 'Acme Law LLP', slug: 'acme-law' },
  });
}

describe('generated contracts', () => {
  test('are up to date with proto/ (run `pnpm gen:contracts`)', async () => {
    const root = resolve(process.cwd());
    const fresh = await generateContracts(resolve(root, 'proto'));
    const committed = readFileSync(resolve(root, 'packages/contracts/src/generated/index.ts'), 'utf8');
    expect(committed).toBe(fresh);
  });
});

describe('event validation', () => {
  test('a well-formed event passes', () => {
    const r = validateEvent(tenantCreated());
    expect(r.ok).toBe(true);
  });

  test('malformed JSON is reported as such', () => {
    const r = parseEvent(Buffer.from('{"id": '));
    expect(r).toMatchObject({ ok: false, reason: 'MALFORMED_JSON' });
  });

  test('an envelope missing tenantId is a contract violation naming the field', () => {
    const e: Record<string, unknown> = { ...tenantCreated() };
    delete e.tenantId;
    const r = validateEvent(e);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.reason).toBe('CONTRACT_VIOLATION');
      expect(r.errors.join(' ')).toContain('tenantId');
    }
  });

  test('an unknown event type is refused', () => {
    const r = validateEvent({ ...tenantCreated(), type: 'identity.nothing.happened' });
    expect(r).toMatchObject({ ok: false, reason: 'UNKNOWN_EVENT_TYPE' });
  });

  test('a payload with an extra field is refused without echoing its value', () => {
    const canary = 'CANARY-SECRET-4f1c';
    const e = tenantCreated();
    const r = validateEvent({ ...e, payload: { ...e.payload, password: canary } });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(JSON.stringify(r.errors)).not.toContain(canary);
  });

  test('occurredAt must be millisecond UTC (hash only bytes stored verbatim)', () => {
    const r = validateEvent({ ...tenantCreated(), occurredAt: '2026-11-30T07:50:00+01:00' });
    expect(r.ok).toBe(false);
  });
});

describe('events are I-JSON, as the ledger that hashes them requires', () => {
  function credentialUsed(purpose: string) {
    const tenantId = newId('ten');
    return buildEvent({
      type: 'vault.credential.used',
      tenantId,
      actor: { type: 'service', id: 'flow-engine' },
      resource: { type: 'credential', id: newId('crd') },
      purpose,
      payload: {
        credentialId: newId('crd'),
        version: 1,
        integration: 'salesforce',
        scope: 'read',
        flowId: 'flw_1',
        executionId: 'exe_1',
        stepId: 'step_1',
        purpose,
      },
    });
  }

  test('a lone surrogate in purpose is refused on produce with a clear error', () => {
    const e = credentialUsed('monthly sync \ud800');
    expect(() => assertValidEvent(e)).toThrow(ContractViolation);
    expect(() => assertValidEvent(e)).toThrow(/\$\.payload\.purpose: string contains a lone UTF-16 surrogate .*I-JSON/);
  });

  test('and on consume, where JSON.parse would otherwise hand it on', () => {
    const e = credentialUsed('x');
    const raw = JSON.stringify(e).replaceAll('"purpose":"x"', '"purpose":"\\udc00"');
    expect(parseEvent(raw)).toMatchObject({ ok: false, reason: 'CONTRACT_VIOLATION' });
    const huge = JSON.stringify(tenantCreated()).replace('"payload":{', '"payload":{"n":1e400,');
    expect(parseEvent(huge)).toMatchObject({ ok: false, reason: 'CONTRACT_VIOLATION' });
  });

  test('an impossible date is refused although it matches the pattern', () => {
    expect(validateEvent({ ...tenantCreated(), occurredAt: '2026-02-30T07:50:00.000Z' }).ok).toBe(false);
  });

  test('whatever the contract accepts, the ledger can canonicalise', () => {
    const e = credentialUsed('quarterly report \u{1F4C8} ok');
    expect(validateEvent(e).ok).toBe(true);
    expect(() => canonicalize(e)).not.toThrow();
  });
});

describe("an event on another domain's topic", () => {
  test('is refused on consume, naming the topic', () => {
    const e = tenantCreated();
    const raw = JSON.stringify(e);
    expect(parseEvent(raw, { topic: eventsTopic('identity', 't9.') }).ok).toBe(true);
    const r = parseEvent(raw, { topic: eventsTopic('vault', 't9.') });
    expect(r).toMatchObject({ ok: false, reason: 'CONTRACT_VIOLATION' });
    if (!r.ok) expect(r.errors[0]).toMatch(/identity\.tenant\.created does not belong on t9\.flow8\.vault\.events\.v1/);
  });
});

describe('ids', () => {
  test('uuidv7 has version 7 and sorts by creation', () => {
    const ids = Array.from({ length: 2000 }, () => uuidv7());
    expect(ids[0]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });

  test('prefixed ids are well-formed and time-sortable', () => {
    const ids = Array.from({ length: 500 }, () => newId('usr'));
    expect(ids.every((id) => isId('usr', id))).toBe(true);
    expect([...ids].sort()).toEqual(ids);
    expect(isId('usr', newId('ten'))).toBe(false);
  });
});

describe('topics', () => {
  test('event type maps to its domain topic and the pattern matches events topics only', () => {
    expect(topicForEvent('identity.user.created')).toBe('flow8.identity.events.v1');
    const re = eventsTopicPattern('t1.');
    expect(re.test('t1.flow8.identity.events.v1')).toBe(true);
    expect(re.test('t1.flow8.identity.events.v1.dlq')).toBe(false);
    expect(re.test('flow8.identity.events.v1')).toBe(false);
    expect(re.test('t1.flow8.flow.commands.v1')).toBe(false);
  });
});
