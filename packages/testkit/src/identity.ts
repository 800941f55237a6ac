import { randomBytes } from 'node:crypto';
import { createIdentitySigner, ed25519RawPublicKey, type InternalPrincipal } from '@flow8/http';

/**
 * A gateway identity key for one suite: configure the service under test with `publicKeyBase64`
 * (INTERNAL_IDENTITY_PUBLIC_KEYS) and mint tokens as the gateway would.
 */
export function testIdentityKey() {
  const seed = randomBytes(32);
  const signer = createIdentitySigner({ seed });
  return {
    seed,
    publicKeyBase64: Buffer.from(ed25519RawPublicKey(seed)).toString('base64'),
    /** The `x-flow8-identity` header for this principal and audience. */
    header(principal: Partial<InternalPrincipal> & Pick<InternalPrincipal, 'tenantId' | 'id'>, audience: string) {
      return {
        'x-flow8-identity': signer.sign(
          { type: 'user', role: null, scopes: [], ip: null, sessionId: null, ...principal },
          audience,
        ),
      };
    },
  };
}
