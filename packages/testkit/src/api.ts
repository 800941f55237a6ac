// The public HTTPS API as a client sees it (through a gateway): requests, a company from the
// platform operator, members and their cookie sessions. HTTP only — no service code — so every
// suite and bench that drives a running system shares one way to sign in and set up a company.
import { randomBytes } from 'node:crypto';
import { request as httpsRequestRaw } from 'node:https';
import { readFileSync } from 'node:fs';
import { stackEnv } from './stack';

const CROCKFORD = '0123456789abcdefghjkmnpqrstvwxyz';
export function randomId(): string {
  return Array.from(randomBytes(26), (b) => CROCKFORD[b % 32]).join('');
}

/** A fresh address in 198.18.0.0/15 (benchmarking range) so counters never collide across runs. */
export function randomIpv4(): string {
  const b = randomBytes(2);
  return `198.${18 + ((b[0] ?? 0) % 2)}.${b[1] ?? 0}.${1 + ((b[0] ?? 0) % 250)}`;
}

export interface Res {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json<T = Record<string, unknown>>(): T;
}

/** HTTPS to a gateway, verifying it against the stack CA; no client certificate (public entry). */
export function call(
  base: string,
  path: string,
  opts: {
    method?: string;
    headers?: Record<string, string>;
    body?: unknown;
    /** Sent as it is (a Buffer byte for byte: bytes that are not UTF-8 included). */
    rawBody?: string | Buffer;
    chunked?: boolean;
  } = {},
): Promise<Res> {
  const payload = opts.rawBody ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body));
  return new Promise((resolve, reject) => {
    const req = httpsRequestRaw(
      new URL(path, base),
      {
        method: opts.method ?? 'GET',
        ca: readFileSync(stackEnv().caFile),
        agent: false,
        headers: {
          ...(payload !== undefined ? { 'content-type': 'application/json' } : {}),
          ...(payload !== undefined && !opts.chunked ? { 'content-length': String(Buffer.byteLength(payload)) } : {}),
          ...opts.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body,
            json: <T>() => JSON.parse(body) as T,
          });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

// ── Real principals through a gateway: a company from the operator, users and their sessions ──

/** A password the policy of auth accepts (long, varied, no e-mail name part, not a common word). */
export function strongPassword(): string {
  return `Pw-${randomBytes(15).toString('base64url')}!7`;
}

/** A cookie session from a real login: its user, and the headers of a cookie + CSRF request. */
export interface Session {
  userId: string;
  role: string;
  tenantId: string;
  csrfToken: string;
  /** `cookie` and `x-csrf-token`: enough for reads and cookie-authenticated writes. */
  headers: Record<string, string>;
}

export async function login(
  base: string,
  who: { tenant: string; email: string; password: string },
  headers: Record<string, string> = {},
): Promise<Session> {
  const r = await call(base, '/v1/auth/login', { method: 'POST', headers, body: who });
  if (r.status !== 200) throw new Error(`login of ${who.email} answered ${r.status}: ${r.body}`);
  const token = /^__Host-flow8_session=([^;]+)/.exec(String(r.headers['set-cookie']))?.[1];
  if (!token) throw new Error('login set no session cookie');
  const body = r.json<{ csrfToken: string; user: { id: string; role: string; tenantId: string } }>();
  return {
    userId: body.user.id,
    role: body.user.role,
    tenantId: body.user.tenantId,
    csrfToken: body.csrfToken,
    headers: { cookie: `__Host-flow8_session=${token}`, 'x-csrf-token': body.csrfToken },
  };
}

export interface Company {
  tenantId: string;
  name: string;
  slug: string;
  admin: { id: string; email: string; password: string };
}

/** A company and its first Admin, created by the platform operator through the gateway. */
export async function createCompany(
  base: string,
  operatorToken: string,
  o: { name?: string; slug?: string; email?: string; headers?: Record<string, string> } = {},
): Promise<Company> {
  const slug = o.slug ?? `co-${randomId().slice(0, 12)}`;
  const name = o.name ?? `Company ${slug}`;
  const email = o.email ?? `admin@${slug}.test`;
  const password = strongPassword();
  const r = await call(base, '/v1/tenants', {
    method: 'POST',
    headers: { ...bearer(operatorToken), ...o.headers },
    body: { name, slug, admin: { email, password } },
  });
  if (r.status !== 201) throw new Error(`creating company ${slug} answered ${r.status}: ${r.body}`);
  const body = r.json<{ tenant: { id: string }; admin: { id: string } }>();
  return { tenantId: body.tenant.id, name, slug, admin: { id: body.admin.id, email, password } };
}

/** POST/PUT/PATCH/DELETE through the gateway that must succeed; answers the JSON body (or null). */
export async function must<T = Record<string, unknown>>(
  base: string,
  path: string,
  opts: { method?: string; headers?: Record<string, string>; body?: unknown; status?: number },
): Promise<T> {
  const r = await call(base, path, opts);
  const want = opts.status ?? (opts.method === 'DELETE' ? 204 : opts.method === 'POST' ? 201 : 200);
  if (r.status !== want)
    throw new Error(`${opts.method ?? 'GET'} ${path} answered ${r.status}, not ${want}: ${r.body}`);
  return (r.body === '' ? null : r.json()) as T;
}

/** A company and its first Admin, signed in (a cookie session). */
export async function companyWithAdmin(
  base: string,
  operatorToken: string,
  o: { name?: string; slug?: string; email?: string; headers?: Record<string, string> } = {},
): Promise<{ company: Company; admin: Session }> {
  const company = await createCompany(base, operatorToken, o);
  const admin = await login(
    base,
    { tenant: company.slug, email: company.admin.email, password: company.admin.password },
    o.headers ?? {},
  );
  return { company, admin };
}

/** A new member of the admin's company with `role`, created through the API, and signed in. */
export async function addMember(
  base: string,
  admin: { headers: Record<string, string> },
  o: { tenant: string; role: string; tag?: string; domain?: string; headers?: Record<string, string> },
): Promise<{ id: string; email: string; password: string; session: Session }> {
  const email = `${o.tag ?? o.role.replace('_', '-')}-${randomId().slice(0, 8)}@${o.domain ?? 'members.test'}`;
  const password = strongPassword();
  const u = await must<{ id: string }>(base, '/v1/users', {
    method: 'POST',
    headers: { ...o.headers, ...admin.headers },
    body: { email, password, role: o.role },
  });
  const session = await login(base, { tenant: o.tenant, email, password }, o.headers ?? {});
  return { id: u.id, email, password, session };
}

/** The body of a credential resolve as the flow engine sends it (the step it is for, the scope, the purpose). */
export const resolveBody = (scope: string, extra: Record<string, unknown> = {}) => ({
  flowId: 'flw_test',
  executionId: 'exe_test',
  stepId: 'step-1',
  scope,
  purpose: 'sync invoices to the ledger',
  ...extra,
});
