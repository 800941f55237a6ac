// API keys: JWTs signed by auth (Ed25519, `kid`), verified here against auth's JWKS. The JWKS is
// cached; a token with an unknown `kid` triggers a refetch, at most once per 30 s, so a flood of
// made-up kids cannot turn into a flood of requests to auth.
import { isRole, type Role } from '@flow8/authz';
import { publicKeysFromJwks, verifyEdDsaJwt } from '@flow8/jwt';
import { periodicJob } from '@flow8/runtime';
import type { Logger } from '@flow8/telemetry';

export const API_KEY_ISSUER = 'flow8-auth';
export const MIN_REFETCH_MS = 30_000;

export interface ApiKeyClaims {
  keyId: string;
  tenantId: string;
  ownerId: string;
  role: Role;
  scopes: string[];
  cidrs: string[];
  jti: string;
  exp: number;
}

export interface JwksCache {
  keys(): ReadonlyMap<string, Uint8Array>;
  /** Refetches unless the last fetch was less than MIN_REFETCH_MS ago. */
  refreshForUnknownKid(): Promise<void>;
  /** First fetch (failure is logged, not fatal) and the periodic refresh. */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** true once a JWKS has been loaded. */
  loaded(): boolean;
  /** Changes whenever the set of keys changes: verified-token cache entries of an older set are void. */
  generation(): number;
}

export function createJwksCache(opts: {
  fetchJwks: () => Promise<unknown>;
  refreshMs: number;
  logger: Logger;
  minRefetchMs?: number;
  now?: () => number;
}): JwksCache {
  const now = opts.now ?? Date.now;
  const minRefetch = opts.minRefetchMs ?? MIN_REFETCH_MS;
  let keys: ReadonlyMap<string, Uint8Array> = new Map();
  let hasLoaded = false;
  let generation = 0;
  let lastAttempt = Number.NEGATIVE_INFINITY;
  let inflight: Promise<void> | null = null;

  function fetchNow(): Promise<void> {
    inflight ??= (async () => {
      lastAttempt = now();
      try {
        const next = publicKeysFromJwks(await opts.fetchJwks());
        const same =
          next.size === keys.size &&
          [...next].every(([kid, raw]) => Buffer.from(keys.get(kid) ?? []).equals(Buffer.from(raw)));
        if (!same) generation += 1;
        keys = next;
        hasLoaded = true;
      } catch (err) {
        // Keep the keys we have: auth being briefly away must not log everybody out.
        opts.logger.warn({ err }, 'fetching the API-key JWKS failed');
      } finally {
        inflight = null;
      }
    })();
    return inflight;
  }

  // Every replica: the JWKS is this process's own cache, each gateway keeps its copy fresh.
  const refresh = periodicJob({
    name: 'gateway.api-key-jwks',
    everyMs: opts.refreshMs,
    runAtStart: false,
    logger: opts.logger,
    run: () => fetchNow(),
  });

  return {
    keys: () => keys,
    async refreshForUnknownKid() {
      if (inflight) return inflight;
      if (now() - lastAttempt < minRefetch) return;
      return fetchNow();
    },
    async start() {
      await fetchNow();
      refresh.start();
    },
    stop: () => refresh.stop(),
    loaded: () => hasLoaded,
    generation: () => generation,
  };
}

const strings = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');

export type ApiKeyOutcome = { ok: true; key: ApiKeyClaims } | { ok: false; reason: string };

const SKEW_SECONDS = 30;

interface Verified {
  key: ApiKeyClaims;
  notBefore: number;
  generation: number;
}

/**
 * Tokens whose signature and claims were verified, by their exact text, so a key used for many
 * requests pays for Ed25519 once. Safe: the entry is the very string that verified (a changed
 * byte is another key in the map), expiry and not-before are re-checked on every hit, a JWKS
 * change voids every entry, and revocation is checked in Redis on every request regardless.
 */
export function createVerifiedTokenCache(max = 10_000) {
  const entries = new Map<string, Verified>();
  return {
    get(token: string, generation: number, nowSeconds: number): ApiKeyClaims | null {
      const e = entries.get(token);
      if (!e) return null;
      if (
        e.generation !== generation ||
        e.key.exp <= nowSeconds - SKEW_SECONDS ||
        e.notBefore > nowSeconds + SKEW_SECONDS
      ) {
        entries.delete(token);
        return null;
      }
      return e.key;
    },
    set(token: string, v: Verified): void {
      // Oldest first out: Map iterates in insertion order.
      if (entries.size >= max) entries.delete(entries.keys().next().value as string);
      entries.set(token, v);
    },
  };
}
export type VerifiedTokenCache = ReturnType<typeof createVerifiedTokenCache>;

export async function verifyApiKey(token: string, jwks: JwksCache, cache?: VerifiedTokenCache): Promise<ApiKeyOutcome> {
  const nowSeconds = Math.floor(Date.now() / 1000);
  const hit = cache?.get(token, jwks.generation(), nowSeconds);
  if (hit) return { ok: true, key: hit };
  const generation = jwks.generation();
  const verify = () => verifyEdDsaJwt(token, { keys: jwks.keys(), issuer: API_KEY_ISSUER });
  let outcome = verify();
  if (!outcome.ok && outcome.reason === 'unknown_key') {
    await jwks.refreshForUnknownKid();
    outcome = verify();
  }
  if (!outcome.ok) return { ok: false, reason: outcome.reason };
  const c = outcome.claims;
  if (typeof c.sub !== 'string' || !c.sub.startsWith('key_')) return { ok: false, reason: 'not an API key' };
  if (typeof c.tid !== 'string' || !c.tid.startsWith('ten_')) return { ok: false, reason: 'no tenant' };
  if (typeof c.uid !== 'string' || c.uid.length === 0) return { ok: false, reason: 'no owner' };
  if (!isRole(c.role)) return { ok: false, reason: 'unknown role' };
  if (!strings(c.scopes)) return { ok: false, reason: 'bad scopes' };
  if (c.cidrs !== undefined && !strings(c.cidrs)) return { ok: false, reason: 'bad cidrs' };
  if (typeof c.jti !== 'string' || c.jti.length === 0) return { ok: false, reason: 'no jti' };
  const key: ApiKeyClaims = {
    keyId: c.sub,
    tenantId: c.tid,
    ownerId: c.uid,
    role: c.role,
    scopes: c.scopes,
    cidrs: (c.cidrs as string[] | undefined) ?? [],
    jti: c.jti,
    exp: c.exp as number,
  };
  cache?.set(token, { key, notBefore: typeof c.nbf === 'number' ? c.nbf : 0, generation });
  return { ok: true, key };
}
