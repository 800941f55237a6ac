// Calls to the services behind the gateway: HTTPS with the gateway's client certificate (mTLS),
// the internal identity for the target service (reused for a few seconds for the very same
// statement: createIdentityTokenCache), the real client IP, the request id and the trace context.
// Upstream failures are mapped to the public error model; an unreachable service is 503
// UNAVAILABLE and nothing about it reaches the client.
import type { Readable } from 'node:stream';
import { Agent, type Dispatcher } from 'undici';
import type { Upstream } from '@flow8/api';
import { AppError, ERROR_CODES, type ErrorCode, type IdentitySigner, type InternalPrincipal } from '@flow8/http';
import { injectTraceHeaders } from '@flow8/telemetry';

/** The services the gateway forwards to: the route table's owners, less the gateway itself. */
export type Target = Exclude<Upstream, 'gateway'>;

export interface UpstreamRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  query?: Record<string, unknown>;
  body?: unknown;
  /** Who is acting; null for calls made before anyone is authenticated (login, session resolve). */
  principal: InternalPrincipal | null;
  clientIp: string;
  requestId: string;
}

export interface UpstreamResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Dispatcher.ResponseData['body'];
}

function queryString(query: Record<string, unknown> | undefined): string {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === null) continue;
    if (Array.isArray(v)) for (const item of v) params.append(k, String(item));
    else params.append(k, String(v as string | number | boolean));
  }
  const s = params.toString();
  return s ? `?${s}` : '';
}

const KNOWN_CODES = new Set<string>(ERROR_CODES);

/** How long one minted identity token is reused for the very same statement (see below). */
export const IDENTITY_REUSE_MS = 5_000;

/**
 * Internal identity tokens, reused for the very same statement for up to `reuseMs`, because an
 * Ed25519 signature per forwarded request is the largest CPU cost of the proxied path.
 *
 * Why this is safe: the cache key is every claim the token states except the timing ones —
 * audience, tenant, principal type and id, role, scopes, client IP, session id, owner — so a
 * reused token says exactly what a fresh one would for this request. It is only attached after
 * this request passed every gateway check (revocation, allowlists, limits, authorization), so a
 * revoked key or ended session is refused before any token is sent. Its lifetime is unchanged
 * (exp = iat + 60 s): reuse never extends how long a token works, and a reused token reaches the
 * service with at least 60 s − reuseMs left. What changes: requests of the same principal within
 * a few seconds share one `jti` — no service uses it as a per-request nonce (replays are already
 * stopped by mTLS: only an allowed caller's certificate may present a token).
 */
export function createIdentityTokenCache(
  signer: IdentitySigner,
  opts: { reuseMs?: number; max?: number; now?: () => number } = {},
): IdentitySigner {
  const reuseMs = opts.reuseMs ?? IDENTITY_REUSE_MS;
  const max = opts.max ?? 10_000;
  const now = opts.now ?? Date.now;
  const entries = new Map<string, { token: string; mintedAt: number }>();
  return {
    kid: signer.kid,
    sign(p, audience) {
      if (reuseMs <= 0) return signer.sign(p, audience);
      const key = JSON.stringify([
        audience,
        p.tenantId,
        p.type,
        p.id,
        p.role,
        p.scopes,
        p.ip,
        p.sessionId,
        p.ownerId ?? null,
      ]);
      const t = now();
      const hit = entries.get(key);
      // A clock that went backwards is not "fresh": mint.
      if (hit && t >= hit.mintedAt && t - hit.mintedAt < reuseMs) return hit.token;
      const token = signer.sign(p, audience);
      // Re-inserted at the end, so the Map's order is age: the oldest goes first when full.
      if (hit) entries.delete(key);
      else if (entries.size >= max) entries.delete(entries.keys().next().value as string);
      entries.set(key, { token, mintedAt: t });
      return token;
    },
  };
}

export function createUpstreams(opts: {
  tls: { ca: string; cert: string; key: string };
  signer: IdentitySigner;
  origins: Record<Target, string>;
  timeoutMs: number;
  /** How long an identity token is reused for the same statement; 0 mints one per request. */
  identityReuseMs?: number;
}) {
  const identity = createIdentityTokenCache(opts.signer, { reuseMs: opts.identityReuseMs ?? IDENTITY_REUSE_MS });
  const agent = new Agent({
    connect: {
      ca: opts.tls.ca,
      cert: opts.tls.cert,
      key: opts.tls.key,
      minVersion: 'TLSv1.2',
      rejectUnauthorized: true,
    },
    keepAliveTimeout: 10_000,
    connections: 128,
  });

  function headersFor(target: Target, req: UpstreamRequest, hasBody: boolean): Record<string, string> {
    const h: Record<string, string> = {
      accept: 'application/json',
      'x-request-id': req.requestId,
      'x-flow8-client-ip': req.clientIp,
    };
    if (hasBody) h['content-type'] = 'application/json';
    const p = req.principal;
    if (p) {
      // The only statement of who is acting: signed, audience-bound, short-lived.
      h['x-flow8-identity'] = identity.sign(p, target);
    }
    return injectTraceHeaders(h);
  }

  async function send(target: Target, req: UpstreamRequest): Promise<UpstreamResponse> {
    const hasBody = req.body !== undefined;
    try {
      const res = await agent.request({
        origin: opts.origins[target],
        path: req.path + queryString(req.query),
        method: req.method,
        headers: headersFor(target, req, hasBody),
        ...(hasBody ? { body: JSON.stringify(req.body) } : {}),
        headersTimeout: opts.timeoutMs,
        bodyTimeout: opts.timeoutMs,
      });
      return { status: res.statusCode, headers: res.headers, body: res.body };
    } catch (err) {
      throw new AppError('UNAVAILABLE', `${target} is unreachable`, { cause: err });
    }
  }

  /** A non-2xx upstream answer as the error the client sees. */
  async function errorFrom(
    target: Target,
    res: UpstreamResponse,
    opts2: { passUnauthenticated: boolean },
  ): Promise<AppError> {
    let parsed: unknown = null;
    try {
      parsed = await res.body.json();
    } catch {
      parsed = null;
    }
    const e = (parsed as { error?: { code?: unknown; message?: unknown; details?: unknown } } | null)?.error;
    if (res.status >= 500) {
      return new AppError(res.status === 503 ? 'UNAVAILABLE' : 'INTERNAL', `${target} answered ${res.status}`);
    }
    if (res.status === 401 && !opts2.passUnauthenticated) {
      // The service refused our own identity or certificate: a deployment fault, not the client's.
      return new AppError('INTERNAL', `${target} refused the gateway's identity`);
    }
    const code = typeof e?.code === 'string' && KNOWN_CODES.has(e.code) ? (e.code as ErrorCode) : null;
    const message = typeof e?.message === 'string' ? e.message : 'Request refused';
    if (code && code !== 'UNAVAILABLE' && code !== 'INTERNAL') {
      return new AppError(code, message, e?.details !== undefined ? { details: e.details } : undefined);
    }
    return new AppError(res.status === 404 ? 'NOT_FOUND' : res.status === 409 ? 'CONFLICT' : 'BAD_REQUEST', message);
  }

  return {
    send,
    errorFrom,
    /** Sends and returns the parsed JSON of a 2xx answer; throws the mapped error otherwise. */
    async json<T>(
      target: Target,
      req: UpstreamRequest,
      o: { passUnauthenticated?: boolean } = {},
    ): Promise<{ status: number; body: T }> {
      const res = await send(target, req);
      if (res.status < 200 || res.status >= 300)
        throw await errorFrom(target, res, { passUnauthenticated: o.passUnauthenticated ?? false });
      if (res.status === 204) {
        await res.body.dump();
        return { status: 204, body: undefined as T };
      }
      try {
        return { status: res.status, body: (await res.body.json()) as T };
      } catch (err) {
        throw new AppError('INTERNAL', `${target} answered with a body that is not JSON`, { cause: err });
      }
    },
    /** Streams a 2xx answer's body through (the audit export). */
    async stream(
      target: Target,
      req: UpstreamRequest,
    ): Promise<{ headers: UpstreamResponse['headers']; body: Readable }> {
      const res = await send(target, req);
      if (res.status !== 200) throw await errorFrom(target, res, { passUnauthenticated: false });
      return { headers: res.headers, body: res.body as unknown as Readable };
    },
    async close(): Promise<void> {
      await agent.close();
    },
  };
}

export type Upstreams = ReturnType<typeof createUpstreams>;
