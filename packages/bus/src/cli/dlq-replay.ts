// Usage: tsx packages/bus/src/cli/dlq-replay.ts --actor <who> [--topic <events topic>]... [--dry-run]
//        (pnpm -s kafka:dlq-replay --actor sre-alice --dry-run)
// Re-publishes dead-lettered events to the topic they came from, after the cause was fixed
// (docs/operations.md, "Dead letters"). Each dead letter is replayed once (a consumer group
// remembers how far); the ledger skips an event it already holds (event-id uniqueness), so a
// replay is safe to repeat. Prints one JSON line per decision and a summary; never a payload.
// Env: as kafka:topics (KAFKA_BROKERS, FLOW8_CA_FILE, KAFKA_ADMIN_CERT_FILE, KAFKA_ADMIN_KEY_FILE,
//      KAFKA_TOPIC_PREFIX).
import { parseArgs } from 'node:util';
import { replayDeadLetters } from '../replay';
import { adminEnv } from './env';

async function main(): Promise<number> {
  let args;
  try {
    args = parseArgs({
      options: {
        actor: { type: 'string' },
        topic: { type: 'string', multiple: true },
        'dry-run': { type: 'boolean', default: false },
      },
    }).values;
  } catch (e) {
    process.stderr.write(`kafka:dlq-replay: ${(e as Error).message}\n`);
    return 2;
  }
  if (!args.actor) {
    process.stderr.write(
      'usage: kafka:dlq-replay --actor <who is replaying> [--topic <events topic>]... [--dry-run]\n',
    );
    return 2;
  }
  const env = adminEnv('kafka:dlq-replay', 'flow8-dlq-replay');
  try {
    const r = await replayDeadLetters(env.kafka, {
      prefix: env.prefix,
      ...(args.topic ? { topics: args.topic } : {}),
      actor: args.actor,
      dryRun: args['dry-run'],
      log: (d) =>
        process.stdout.write(`${JSON.stringify({ at: new Date().toISOString(), actor: args.actor, ...d })}\n`),
    });
    process.stdout.write(
      `kafka:dlq-replay: ${r.replayed} ${args['dry-run'] ? 'would be replayed' : 'replayed'}, ${r.skipped} skipped\n`,
    );
    return 0;
  } catch (e) {
    process.stderr.write(`kafka:dlq-replay: FAILED: ${(e as Error).message}\n`);
    return 1;
  }
}

process.exit(await main());
