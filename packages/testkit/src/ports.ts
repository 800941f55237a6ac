import { createServer } from 'node:net';

/**
 * A loopback port nobody listens on right now, for a listener that must be told its port (a
 * spawned service, a metrics endpoint where 0 means "off"). Asked of the OS, never guessed.
 */
export async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const { port } = probe.address() as { port: number };
  await new Promise((r) => probe.close(r));
  return port;
}
