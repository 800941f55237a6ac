// The Node.js line flow8 runs on. Root package.json `engines.node`, the runtime pinned in
// scripts/lib/runtime.sh and deploy/Dockerfile's base image say the same; node-support.test.ts
// fails when one of them drifts.

/** Node.js 24 LTS (maintenance until April 2028), from its first LTS release on. */
export const SUPPORTED_NODE = { major: 24, minimum: '24.11.0' } as const;

function parse(version: string): [number, number, number] | null {
  const m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(version);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : null;
}

/** Why `version` is not a supported runtime, or null when it is. */
export function unsupportedNodeReason(version: string): string | null {
  const v = parse(version);
  const min = parse(SUPPORTED_NODE.minimum)!;
  const supported =
    v !== null && v[0] === SUPPORTED_NODE.major && (v[1] > min[1] || (v[1] === min[1] && v[2] >= min[2]));
  if (supported) return null;
  return (
    `Node.js ${version} is not supported: flow8 runs on Node.js ${SUPPORTED_NODE.major} ` +
    `(>= ${SUPPORTED_NODE.minimum}, < ${SUPPORTED_NODE.major + 1}). ` +
    `Run ./scripts/setup.sh (it installs the pinned runtime) or use the deploy/Dockerfile image.`
  );
}

/** Exit code of a refused runtime: the same as a refused configuration (EX_CONFIG). */
export const UNSUPPORTED_NODE_EXIT_CODE = 78;

/**
 * Refuse to run on an unsupported Node.js: print why under the service's name and exit 78.
 * Called first thing by runService, before configuration or any connection.
 */
export function assertSupportedNode(service: string, version: string = process.versions.node): void {
  const reason = unsupportedNodeReason(version);
  if (reason === null) return;
  process.stderr.write(`${service}: refusing to start: ${reason}\n`);
  process.exit(UNSUPPORTED_NODE_EXIT_CODE);
}
