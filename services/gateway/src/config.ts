import { z } from 'zod';
import {
  base64Key,
  csv,
  duration,
  httpFields,
  int,
  port,
  secret,
  metricsFields,
  metricsPort,
  telemetryFields,
  tlsFields,
  url,
} from '@flow8/config';

const KIB = 1024;

export const gatewayConfigSchema = z.object({
  ...httpFields,
  ...tlsFields,
  ...telemetryFields,
  ...metricsFields,
  /** HTTPS only; there is no plain-HTTP listener at all. */
  PORT: port(8443),
  /** Plain-HTTP `GET /metrics` for Prometheus; 0 turns it off. */
  METRICS_PORT: metricsPort(9443),
  /** Where auth, audit-ingest and credential-vault listen (mTLS with this service's certificate, CN `gateway`). */
  GATEWAY_AUTH_URL: url({ protocols: ['https'] }).default('https://localhost:8101'),
  GATEWAY_AUDIT_URL: url({ protocols: ['https'] }).default('https://localhost:8104'),
  GATEWAY_VAULT_URL: url({ protocols: ['https'] }).default('https://localhost:8102'),
  GATEWAY_FLOW_ENGINE_URL: url({ protocols: ['https'] }).default('https://localhost:8105'),
  /** auth's API-key signing keys. Default: `${GATEWAY_AUTH_URL}/internal/v1/jwks`. */
  GATEWAY_JWKS_URL: url({ protocols: ['https'] }).optional(),
  /** How often the JWKS is refreshed regardless (an unknown `kid` refreshes it sooner, at most every 30 s). */
  GATEWAY_JWKS_REFRESH: duration('5m'),
  /** Ed25519 seed (base64, 32 bytes) signing the internal identity (`x-flow8-identity`). */
  GATEWAY_IDENTITY_SIGNING_KEY: base64Key(32),
  /** Bearer token of the platform operator, accepted only on POST /v1/tenants. */
  GATEWAY_OPERATOR_TOKEN: secret().refine((v) => v.length >= 32, 'must be at least 32 characters'),
  /** Browser origins allowed by CORS (credentials allowed). Unset: no cross-origin access. */
  GATEWAY_CORS_ORIGINS: csv().optional(),
  GATEWAY_BODY_LIMIT: int({ min: KIB, max: 16 * 1024 * KIB, default: 256 * KIB }),
  REDIS_URL: secret(),
  GATEWAY_RATE_LIMIT_USER: int({ min: 1, default: 1000 }),
  GATEWAY_RATE_LIMIT_IP: int({ min: 1, default: 3000 }),
  GATEWAY_RATE_LIMIT_TENANT: int({ min: 1, default: 20000 }),
  /** The fixed window the three limits count in. */
  GATEWAY_RATE_LIMIT_WINDOW: duration('1h'),
  /** CIDRs (IPv4/IPv6) every client must come from. Unset: no global restriction. */
  GATEWAY_GLOBAL_ALLOWLIST: csv().optional(),
  /** Direct peers (CIDRs) whose X-Forwarded-For is believed. Unset: X-Forwarded-For is ignored. */
  GATEWAY_TRUSTED_PROXIES: csv().optional(),
  /** Upstream request timeout. */
  GATEWAY_UPSTREAM_TIMEOUT: duration('30s'),
});

export type GatewayConfig = z.infer<typeof gatewayConfigSchema>;
