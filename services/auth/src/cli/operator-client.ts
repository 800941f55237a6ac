// The platform operator's client for POST /v1/tenants: mutual TLS with the operator certificate
// (the bootstrap credential), the server verified against the installation's CA.
import { readFileSync } from 'node:fs';
import { request } from 'node:https';

export interface CreateTenantRequest {
  url: string;
  name: string;
  slug: string;
  adminEmail: string;
  adminPassword: string;
  caFile: string;
  certFile: string;
  keyFile: string;
}

export type CreateTenantResult =
  | { ok: true; tenantId: string; slug: string; adminUserId: string }
  | { ok: false; status: number; code: string; message: string };

export function createTenantViaApi(req: CreateTenantRequest): Promise<CreateTenantResult> {
  const body = JSON.stringify({
    name: req.name,
    slug: req.slug,
    admin: { email: req.adminEmail, password: req.adminPassword },
  });
  const target = new URL('/v1/tenants', req.url);
  if (target.protocol !== 'https:') return Promise.reject(new Error('--url must be https://'));
  return new Promise((resolve, reject) => {
    const r = request(
      target,
      {
        method: 'POST',
        ca: readFileSync(req.caFile),
        cert: readFileSync(req.certFile),
        key: readFileSync(req.keyFile),
        minVersion: 'TLSv1.2',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          let json: unknown;
          try {
            json = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          } catch {
            json = undefined;
          }
          if (status === 201 && isCreated(json)) {
            resolve({ ok: true, tenantId: json.tenant.id, slug: json.tenant.slug, adminUserId: json.admin.id });
            return;
          }
          const err = isErrorBody(json)
            ? json.error
            : { code: 'UNKNOWN', message: `unexpected response (HTTP ${status})` };
          resolve({ ok: false, status, code: err.code, message: err.message });
        });
      },
    );
    r.on('error', reject);
    r.end(body);
  });
}

function isCreated(v: unknown): v is { tenant: { id: string; slug: string }; admin: { id: string } } {
  const o = v as { tenant?: { id?: unknown; slug?: unknown }; admin?: { id?: unknown } } | undefined;
  return typeof o?.tenant?.id === 'string' && typeof o.tenant.slug === 'string' && typeof o.admin?.id === 'string';
}

function isErrorBody(v: unknown): v is { error: { code: string; message: string } } {
  const o = v as { error?: { code?: unknown; message?: unknown } } | undefined;
  return typeof o?.error?.code === 'string' && typeof o.error.message === 'string';
}
