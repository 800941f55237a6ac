// Fault injection on the real stack, for the `fault` test project only: those suites run
// serially after every other suite, because stopping the shared broker would break them.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot, stackEnv } from './stack';

const run = promisify(execFile);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Stops the local Kafka broker (SIGTERM, controlled shutdown) and waits until it is gone. */
export async function stopKafka(timeoutMs = 60_000): Promise<void> {
  const pidFile = join(stackEnv().stateDir, 'kafka', 'kafka.pid');
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  if (!pid || !alive(pid)) throw new Error(`no running Kafka broker in ${pidFile}`);
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + timeoutMs;
  while (alive(pid)) {
    if (Date.now() > deadline) {
      process.kill(pid, 'SIGKILL');
      break;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Starts whatever part of the stack is down again (the launcher is idempotent). */
export async function restartStack(): Promise<void> {
  const root = repoRoot();
  await run('bash', [join(root, 'scripts/stack/up.sh'), '--quiet'], {
    cwd: root,
    env: { ...process.env, FLOW8_STATE_DIR: stackEnv().stateDir },
    timeout: 180_000,
  });
}
