// Attacks on the bus with the real certificates of the local stack: the controller listener, a
// service certificate forging another domain's events, creating topics, purging an events topic
// through retention.ms, consuming with another service's group. Each must be refused by the
// broker (TLS with client certificates everywhere, StandardAuthorizer + the ACLs of
// packages/bus/src/topology.ts).
import { connect as tcpConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import kafkajs from 'kafkajs';
import { buildEvent, commandsTopic, dlqTopic, eventsTopic, newId } from '@flow8/contracts';
import { createKafka, createPublisher, requireTopics, topicsOf, type Kafka } from '../src/index';
// The testkit depends on this package; a relative import keeps the workspace graph acyclic.
import { adminKafka, certPair, provisionTopics, readTopic, stackEnv, uniqueTopicPrefix } from '../../testkit/src/index';

const { ConfigResourceTypes } = kafkajs;

/** A client authenticated by a service's (or any named) certificate; no retries, so refusals are quick. */
function as(certName: string): Kafka {
  const { ca, cert, key } = certPair(certName);
  return createKafka({
    brokers: stackEnv().kafkaBrokers,
    clientId: `attack-${certName}`,
    tls: { ca, cert, key },
    retries: 0,
  });
}

/** The Kafka error type a refused call carries (`TOPIC_AUTHORIZATION_FAILED`, ...), or 'none'. */
async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'none';
  } catch (e) {
    const err = e as { type?: string; message?: string; cause?: { type?: string }; errors?: Array<{ type?: string }> };
    return err.type ?? err.cause?.type ?? err.errors?.[0]?.type ?? err.message ?? 'error';
  }
}

function tenantCreated() {
  const tenantId = newId('ten');
  return buildEvent({
    type: 'identity.tenant.created',
    tenantId,
    actor: { type: 'operator', id: 'operator', ip: null },
    resource: { type: 'tenant', id: tenantId },
    payload: { tenantId, name: 'Forged Inc', slug: 'forged' },
  });
}

const message = (topic: string) => {
  const e = tenantCreated();
  return { topic, key: e.tenantId, value: Buffer.from(JSON.stringify(e)), headers: { 'flow8-event-id': e.id } };
};

/** Sends an ApiVersions request on an open socket: 'answered' if a Kafka response comes back. */
function apiVersions(socket: Socket, timeoutMs = 5000): Promise<'answered' | 'refused'> {
  return new Promise((resolve) => {
    const clientId = Buffer.from('probe');
    const header = Buffer.alloc(2 + 2 + 4 + 2);
    header.writeInt16BE(18, 0); // ApiVersions
    header.writeInt16BE(0, 2); // v0
    header.writeInt32BE(4242, 4); // correlation id
    header.writeInt16BE(clientId.length, 8);
    const body = Buffer.concat([header, clientId]);
    const size = Buffer.alloc(4);
    size.writeInt32BE(body.length, 0);
    let got = Buffer.alloc(0);
    const done = (r: 'answered' | 'refused') => {
      clearTimeout(timer);
      socket.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => done('refused'), timeoutMs);
    socket.on('data', (d: Buffer) => {
      got = Buffer.concat([got, d]);
      if (got.length >= 8) done(got.readInt32BE(4) === 4242 ? 'answered' : 'refused');
    });
    socket.on('error', () => done('refused'));
    socket.on('close', () => done('refused'));
    socket.write(Buffer.concat([size, body]));
  });
}

/**
 * A CreateTopics v2 request (validate_only) on an open socket: the error code the controller
 * answers for the topic (0 = it would create it), or 'refused' without an answer.
 */
function createTopicOnController(socket: Socket, topic: string, timeoutMs = 10_000): Promise<number | 'refused'> {
  return new Promise((resolve) => {
    const str = (v: string) => {
      const b = Buffer.from(v);
      const len = Buffer.alloc(2);
      len.writeInt16BE(b.length, 0);
      return Buffer.concat([len, b]);
    };
    const i16 = (n: number) => {
      const b = Buffer.alloc(2);
      b.writeInt16BE(n, 0);
      return b;
    };
    const i32 = (n: number) => {
      const b = Buffer.alloc(4);
      b.writeInt32BE(n, 0);
      return b;
    };
    const body = Buffer.concat([
      i16(19), // CreateTopics
      i16(2),
      i32(4343),
      str('probe'),
      i32(1), // one topic
      str(topic),
      i32(1), // partitions
      i16(1), // replication factor
      i32(0), // assignments
      i32(0), // configs
      i32(5000), // timeout
      Buffer.from([1]), // validate only
    ]);
    let got = Buffer.alloc(0);
    const done = (r: number | 'refused') => {
      clearTimeout(timer);
      socket.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => done('refused'), timeoutMs);
    socket.on('data', (d: Buffer) => {
      got = Buffer.concat([got, d]);
      if (got.length < 4 || got.length < 4 + got.readInt32BE(0)) return;
      // size, correlation id, throttle, topics count, name, error code
      if (got.readInt32BE(4) !== 4343) return done('refused');
      const nameLen = got.readInt16BE(16);
      done(got.readInt16BE(18 + nameLen));
    });
    socket.on('error', () => done('refused'));
    socket.on('close', () => done('refused'));
    socket.write(Buffer.concat([i32(body.length), body]));
  });
}

function controller(): { host: string; port: number } {
  const c = stackEnv().kafkaController;
  expect(c).toMatch(/^[^:]+:\d+$/); // up.sh writes FLOW8_KAFKA_CONTROLLER into stack.env
  const [host, port] = c.split(':');
  return { host: host!, port: Number(port) };
}

function plain(): Promise<Socket> {
  const { host, port } = controller();
  return new Promise((resolve, reject) => {
    const s = tcpConnect({ host, port }, () => resolve(s));
    s.once('error', reject);
  });
}

function overTls(certName: string | null): Promise<Socket> {
  const { host, port } = controller();
  const pair = certPair(certName ?? 'testkit');
  return new Promise((resolve) => {
    const s = tlsConnect(
      {
        host,
        port,
        servername: 'localhost',
        ca: pair.ca,
        ...(certName ? { cert: pair.cert, key: pair.key } : {}),
        minVersion: 'TLSv1.2',
      },
      () => resolve(s),
    );
    // A refused handshake surfaces as an error on the socket; apiVersions() reports it.
    s.once('error', () => resolve(s));
  });
}

describe('the KRaft controller listener', () => {
  test('refuses a plaintext client: no Kafka request is answered without TLS', async () => {
    expect(await apiVersions(await plain())).toBe('refused');
  });

  test('speaks TLS and answers only a client that presents a certificate of the environment CA', async () => {
    expect(await apiVersions(await overTls('kafka-admin'))).toBe('answered');
    expect(await apiVersions(await overTls(null))).toBe('refused');
  });

  test('authorizes like the brokers: a service certificate cannot create topics through it', async () => {
    const topic = `${uniqueTopicPrefix()}flow8.rogue.events.v1`;
    // The admin may (validate only: nothing is created); auth is refused (29 TOPIC_AUTHORIZATION_FAILED).
    expect(await createTopicOnController(await overTls('kafka-admin'), topic)).toBe(0);
    expect(await createTopicOnController(await overTls('auth'), topic)).toBe(29);
    expect(await createTopicOnController(await plain(), topic)).toBe('refused');
  });
});

describe('service certificates on the broker', () => {
  const prefix = uniqueTopicPrefix();
  const identity = eventsTopic('identity', prefix);
  const vault = eventsTopic('vault', prefix);
  const audit = eventsTopic('audit', prefix);
  const clients: Array<{ disconnect(): Promise<void> }> = [];
  const publisher = (certName: string) => {
    const p = createPublisher(as(certName));
    clients.push(p);
    return p;
  };

  beforeAll(async () => {
    await provisionTopics(prefix);
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.disconnect().catch(() => undefined)));
  });

  test("a service cannot forge another domain's events: each writes only its own topic", async () => {
    // Positive control: auth writes the identity topic (what its outbox relay does).
    expect(await refusal(publisher('auth').publish([message(identity)]))).toBe('none');
    expect(await refusal(publisher('auth').publish([message(vault)]))).toBe('TOPIC_AUTHORIZATION_FAILED');
    expect(await refusal(publisher('auth').publish([message(audit)]))).toBe('TOPIC_AUTHORIZATION_FAILED');
    expect(await refusal(publisher('credential-vault').publish([message(identity)]))).toBe(
      'TOPIC_AUTHORIZATION_FAILED',
    );
    expect(await refusal(publisher('audit-ingest').publish([message(identity)]))).toBe('TOPIC_AUTHORIZATION_FAILED');
    expect(await refusal(publisher('gateway').publish([message(identity)]))).toBe('TOPIC_AUTHORIZATION_FAILED');
    // Nothing forged reached the topics the ledger reads: only the control message is there.
    const onIdentity = await readTopic(adminKafka('attack-check'), identity);
    expect(onIdentity).toHaveLength(1);
    expect(await readTopic(adminKafka('attack-check'), vault)).toHaveLength(0);
  });

  test('only the flow engine writes flow commands (a forged command would be work run in a company’s name)', async () => {
    const commands = commandsTopic('flow', prefix);
    const flowEvents = eventsTopic('flow', prefix);
    const command = { topic: commands, key: 'exe', value: Buffer.from('{}'), headers: {} };
    expect(await refusal(publisher('flow-engine').publish([command]))).toBe('none');
    expect(await refusal(publisher('flow-engine').publish([message(flowEvents)]))).toBe('none');
    for (const other of ['auth', 'credential-vault', 'audit-ingest', 'gateway']) {
      expect(await refusal(publisher(other).publish([command]))).toBe('TOPIC_AUTHORIZATION_FAILED');
    }
    expect(await refusal(publisher('flow-engine').publish([message(identity)]))).toBe('TOPIC_AUTHORIZATION_FAILED');
    expect(await readTopic(adminKafka('attack-check'), commands)).toHaveLength(1);
  });

  test('a service certificate cannot create topics or change a topic’s retention (purge audit events)', async () => {
    const admin = as('auth').admin();
    clients.push(admin);
    await admin.connect();
    const created = await refusal(
      admin.createTopics({ topics: [{ topic: `${prefix}flow8.rogue.events.v1`, numPartitions: 1 }] }),
    );
    expect(created).toMatch(/AUTHORIZATION_FAILED/);
    for (const topic of [vault, audit, dlqTopic(identity)]) {
      const purge = await refusal(
        admin.alterConfigs({
          validateOnly: false,
          resources: [
            { type: ConfigResourceTypes.TOPIC, name: topic, configEntries: [{ name: 'retention.ms', value: '1' }] },
          ],
        }),
      );
      expect(purge).toMatch(/AUTHORIZATION_FAILED/);
    }
    // The audit-ingest certificate (which reads every topic) cannot either.
    const ingest = as('audit-ingest').admin();
    clients.push(ingest);
    await ingest.connect();
    expect(
      await refusal(
        ingest.alterConfigs({
          validateOnly: false,
          resources: [
            { type: ConfigResourceTypes.TOPIC, name: vault, configEntries: [{ name: 'retention.ms', value: '1' }] },
          ],
        }),
      ),
    ).toMatch(/AUTHORIZATION_FAILED/);
    // What the admin sees: the topic was not created and retention is the policy's 30 days.
    const root = adminKafka('attack-check').admin();
    clients.push(root);
    await root.connect();
    expect(await root.listTopics()).not.toContain(`${prefix}flow8.rogue.events.v1`);
    const cfg = await root.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: ConfigResourceTypes.TOPIC, name: vault, configNames: ['retention.ms'] }],
    });
    expect(cfg.resources[0]?.configEntries.find((c) => c.configName === 'retention.ms')?.configValue).toBe(
      String(30 * 24 * 3600_000),
    );
  });

  test('a service consumes only with its own group, and only the topics it needs', async () => {
    // The vault's grant replica reads identity with its own group: allowed.
    const own = as('credential-vault').consumer({ groupId: `${prefix}credential-vault.grants` });
    clients.push(own);
    // With the ledger's group it could move audit-ingest's offsets past events: refused.
    const stolen = as('credential-vault').consumer({ groupId: `${prefix}audit-ingest` });
    clients.push(stolen);
    await own.connect();
    await stolen.connect();
    const joined = (c: typeof own) =>
      new Promise<string>((resolve) => {
        c.on(c.events.GROUP_JOIN, () => resolve('none'));
        c.on(c.events.CRASH, (e) => {
          const err = e.payload.error as { type?: string; message: string };
          resolve(err.type ?? err.message);
        });
        c.subscribe({ topics: [identity], fromBeginning: true })
          .then(() => c.run({ eachMessage: async () => undefined }))
          .catch((err: { type?: string; message: string }) => resolve(err.type ?? err.message));
      });
    // (kafkajs reports the broker's GROUP_AUTHORIZATION_FAILED on FindCoordinator as "Failed to
    // find group coordinator"; the admin's view below shows the group was never touched.)
    const refusedGroup = /GROUP_AUTHORIZATION_FAILED|Failed to find group coordinator/;
    expect(await joined(own)).toBe('none');
    expect(await joined(stolen)).toMatch(refusedGroup);
    // auth produces identity events but reads nothing, with no group.
    const nosy = as('auth').consumer({ groupId: `${prefix}credential-vault.grants` });
    clients.push(nosy);
    await nosy.connect();
    expect(await joined(nosy)).toMatch(refusedGroup);
    // The engine's grant replica reads identity with its own group: allowed; with the vault's: refused.
    const engine = as('flow-engine').consumer({ groupId: `${prefix}flow-engine.grants` });
    const borrowed = as('flow-engine').consumer({ groupId: `${prefix}credential-vault.grants` });
    clients.push(engine, borrowed);
    await engine.connect();
    await borrowed.connect();
    expect(await joined(engine)).toBe('none');
    expect(await joined(borrowed)).toMatch(refusedGroup);
    const root = adminKafka('attack-check').admin();
    clients.push(root);
    await root.connect();
    const [ledgerGroup] = (await root.describeGroups([`${prefix}audit-ingest`])).groups;
    expect(ledgerGroup?.members ?? []).toHaveLength(0);
    const [committed] = await root.fetchOffsets({ groupId: `${prefix}audit-ingest`, topics: [identity] });
    expect(committed?.partitions.every((p) => p.offset === '-1')).toBe(true);
    const [grants] = (await root.describeGroups([`${prefix}credential-vault.grants`])).groups;
    expect(grants?.members.map((m) => m.clientId)).toEqual(['attack-credential-vault']);
  });

  test('services start only on provisioned topics, and find all of theirs', async () => {
    for (const service of ['auth', 'credential-vault', 'audit-ingest', 'flow-engine']) {
      expect(await refusal(requireTopics(as(service), topicsOf(service, prefix), { timeoutMs: 10_000 }))).toBe('none');
    }
    const fresh = uniqueTopicPrefix();
    expect(await refusal(requireTopics(as('auth'), topicsOf('auth', fresh), { timeoutMs: 2_000 }))).toMatch(
      /topics missing or not readable .* kafka:topics/,
    );
  });
});
