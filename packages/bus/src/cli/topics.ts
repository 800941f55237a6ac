// Usage: tsx packages/bus/src/cli/topics.ts        (pnpm -s kafka:topics)
// The admin step before services start: creates the installation's topics, applies each topic's
// retention (packages/bus/src/topology.ts) and the services' ACLs. Idempotent; run it on every
// deployment, like migrations.
// Env: KAFKA_BROKERS, FLOW8_CA_FILE, KAFKA_ADMIN_CERT_FILE, KAFKA_ADMIN_KEY_FILE (the kafka-admin
//      certificate), KAFKA_TOPIC_PREFIX (''), KAFKA_TOPIC_PARTITIONS (3), KAFKA_REPLICATION_FACTOR (1).
import { provisionBus } from '../topology';
import { adminEnv } from './env';

async function main(): Promise<number> {
  const env = adminEnv('kafka:topics', 'flow8-topics');
  try {
    const r = await provisionBus(env.kafka, {
      prefix: env.prefix,
      partitions: env.partitions,
      replicationFactor: env.replicationFactor,
    });
    for (const t of r.created) process.stdout.write(`kafka:topics: created ${t}\n`);
    process.stdout.write(
      `${r.created.length} topic(s) created, ${r.configured.length} configured, ${r.acls} ACL binding(s) in place\n`,
    );
    return 0;
  } catch (e) {
    process.stderr.write(`kafka:topics: FAILED: ${(e as Error).message}\n`);
    return 1;
  }
}

process.exit(await main());
