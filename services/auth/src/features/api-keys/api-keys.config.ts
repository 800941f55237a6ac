// Config fields of the API-key feature, spread into auth's schema.
import { z } from 'zod';
import { secret } from '@flow8/config';

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export const apiKeyConfigFields = {
  /**
   * Comma-separated base64 32-byte Ed25519 seeds (use AUTH_API_KEY_SIGNING_KEYS_FILE in
   * production). The FIRST signs new API keys; the others only verify (listed in the JWKS) — to
   * change the signing key, put the new seed first and keep the old one until its keys expired.
   */
  AUTH_API_KEY_SIGNING_KEYS: secret().transform((v, ctx) => {
    const seeds = v.split(',').map((s) => s.trim());
    const decoded: Uint8Array[] = [];
    for (const [i, s] of seeds.entries()) {
      const raw = BASE64.test(s) ? Buffer.from(s, 'base64') : null;
      if (!raw || raw.length !== 32) {
        // Names the position, never the value.
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: `entry ${i + 1} must be standard base64 of 32 bytes` });
        return z.NEVER;
      }
      decoded.push(new Uint8Array(raw));
    }
    if (new Set(seeds).size !== seeds.length) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'must not list the same key twice' });
      return z.NEVER;
    }
    return decoded;
  }),
};
