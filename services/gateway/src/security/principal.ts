import type { InternalPrincipal } from '@flow8/http';
import type { ApiKeyClaims } from './api-keys';

/** Who is calling, as the gateway authenticated them. */
export interface Authenticated {
  principal: InternalPrincipal;
  /** How: the session cookie, an API key, or the operator token. */
  via: 'session' | 'api_key' | 'operator';
  /** Cookie sessions: whether auth found the `x-csrf-token` valid for this session. */
  csrfValid: boolean;
  /** API keys: the token's id, for the revocation check. */
  jti: string | null;
  /** API keys: the owner (`uid`), for authorization. */
  ownerId: string | null;
  /** API keys: CIDRs the key may be used from (empty: any). */
  cidrs: string[];
  /** API keys: the verified claims (the token cache's object: one per token while cached). */
  apiKey?: ApiKeyClaims;
}
