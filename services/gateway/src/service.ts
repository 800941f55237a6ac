// Wires the gateway from its config: used by main.ts, the integration tests and the benchmark.
import { Agent } from 'undici';
import { cidrListOrThrow, createIdentitySigner } from '@flow8/http';
import { createRedis, loadTls } from '@flow8/runtime';
import type { Logger } from '@flow8/telemetry';
import { buildApp } from './app';
import type { GatewayConfig } from './config';
import { createJwksCache } from './security/api-keys';
import { createGate } from './security/gate';
import { createUpstreams } from './upstream/client';

export async function createGateway(config: GatewayConfig, logger: Logger) {
  const tls = loadTls(config);
  const globalAllowlist = config.GATEWAY_GLOBAL_ALLOWLIST
    ? cidrListOrThrow('GATEWAY_GLOBAL_ALLOWLIST', config.GATEWAY_GLOBAL_ALLOWLIST)
    : null;
  const trustedProxies = config.GATEWAY_TRUSTED_PROXIES
    ? cidrListOrThrow('GATEWAY_TRUSTED_PROXIES', config.GATEWAY_TRUSTED_PROXIES)
    : null;
  const redis = createRedis({ url: config.REDIS_URL, caFile: config.FLOW8_CA_FILE, name: 'gateway' });
  // ioredis reports connection trouble as 'error' events; the gate logs the consequence.
  redis.on('error', () => undefined);
  const gate = createGate({
    redis,
    logger,
    limits: {
      user: config.GATEWAY_RATE_LIMIT_USER,
      ip: config.GATEWAY_RATE_LIMIT_IP,
      tenant: config.GATEWAY_RATE_LIMIT_TENANT,
      windowMs: config.GATEWAY_RATE_LIMIT_WINDOW,
    },
  });
  const signer = createIdentitySigner({ seed: config.GATEWAY_IDENTITY_SIGNING_KEY });
  const upstreams = createUpstreams({
    tls,
    signer,
    origins: {
      auth: config.GATEWAY_AUTH_URL,
      'audit-ingest': config.GATEWAY_AUDIT_URL,
      'credential-vault': config.GATEWAY_VAULT_URL,
      'flow-engine': config.GATEWAY_FLOW_ENGINE_URL,
    },
    timeoutMs: config.GATEWAY_UPSTREAM_TIMEOUT,
  });
  const jwksUrl = new URL(config.GATEWAY_JWKS_URL ?? `${config.GATEWAY_AUTH_URL.replace(/\/$/, '')}/internal/v1/jwks`);
  const jwksAgent = new Agent({ connect: { ca: tls.ca, cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2' } });
  const jwks = createJwksCache({
    refreshMs: config.GATEWAY_JWKS_REFRESH,
    logger,
    fetchJwks: async () => {
      const res = await jwksAgent.request({
        origin: jwksUrl.origin,
        path: jwksUrl.pathname + jwksUrl.search,
        method: 'GET',
        headers: { accept: 'application/json' },
        headersTimeout: 5000,
        bodyTimeout: 5000,
      });
      if (res.statusCode !== 200) {
        await res.body.dump();
        throw new Error(`JWKS answered ${res.statusCode}`);
      }
      return res.body.json();
    },
  });

  const app = buildApp({
    logger,
    tls,
    upstreams,
    gate,
    jwks,
    operatorToken: config.GATEWAY_OPERATOR_TOKEN,
    globalAllowlist,
    trustedProxies,
    bodyLimit: config.GATEWAY_BODY_LIMIT,
    corsOrigins: config.GATEWAY_CORS_ORIGINS ?? [],
    readiness: {
      redis: () => gate.ping(),
      securitySync: () => gate.synced(),
      jwks: async () => {
        if (!jwks.loaded()) throw new Error('no API-key JWKS loaded yet');
      },
    },
  });

  return {
    app,
    redis,
    /** The JWKS is fetched now; a failure is logged and retried, API keys are refused meanwhile. */
    async start() {
      // Commands are refused (not queued) while Redis is connecting: wait for it briefly, so the
      // first requests are not answered as if Redis were down. Not fatal: /readyz tells.
      if (redis.status !== 'ready') {
        // Not events.once: it rejects on the first 'error' (a refused connection attempt).
        const ready = new Promise<boolean>((r) => redis.once('ready', () => r(true)));
        const timeout = new Promise<boolean>((r) => setTimeout(() => r(false), 5000).unref());
        if (!(await Promise.race([ready, timeout]))) logger.error('redis not reachable at start');
      }
      await jwks.start();
    },
    async stop() {
      await jwks.stop();
      await upstreams.close();
      await jwksAgent.close();
      redis.disconnect();
    },
  };
}

export type Gateway = Awaited<ReturnType<typeof createGateway>>;
