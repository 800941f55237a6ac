// libsodium-wrappers is loaded through its CommonJS build: the ESM entry of 0.7.16 imports a
// file the package does not ship (jedisct1/libsodium.js#357), which is why package.json pins
// 0.7.15. The CommonJS module object only gains its functions once `ready` resolves, so it is
// reached through the default import, never through named imports.
import sodiumDefault from 'libsodium-wrappers';
import type * as SodiumModule from 'libsodium-wrappers';

type Sodium = typeof SodiumModule;

const sodium = sodiumDefault as unknown as Sodium;

let initialised = false;
let initialising: Promise<void> | undefined;

/**
 * Initialise libsodium (loads its WebAssembly). Await it once at start-up, before any function
 * of this package that uses libsodium (today: the Ed25519 functions; later: AEAD). Hashing,
 * encoding and canonicalisation do not need it. Safe to call many times.
 */
export function ready(): Promise<void> {
  initialising ??= sodium.ready.then(() => {
    initialised = true;
  });
  return initialising;
}

/** True once `ready()` has resolved. */
export function isReady(): boolean {
  return initialised;
}

/**
 * The initialised libsodium, or a clear error: calling a sync crypto function before `ready()`
 * would otherwise fail deep inside libsodium with "x is not a function".
 */
export function requireSodium(operation: string): Sodium {
  if (!initialised) {
    throw new Error(`@flow8/crypto: ${operation} needs libsodium; call and await ready() first`);
  }
  return sodium;
}
