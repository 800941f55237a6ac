// One closed set of failure codes for the OAuth module. Messages never contain token, code,
// state or verifier text: only our own wording, the HTTP status and the provider's `error` code
// (RFC 6749 §5.2), which is itself checked to be a short identifier before it is repeated.
export type OAuthErrorCode =
  /** the integration name is not in the registry */
  | 'UNKNOWN_INTEGRATION'
  /** an endpoint is not https:, or resolves to a private/link-local address that is not allowed */
  | 'EGRESS_REFUSED'
  /** discovery document missing, malformed or for another issuer */
  | 'DISCOVERY_FAILED'
  /** connection failure, timeout, TLS failure */
  | 'NETWORK'
  /** the provider answered with an OAuth error (see `providerError`) */
  | 'PROVIDER_ERROR'
  /** the provider answered something that is not a valid OAuth response */
  | 'INVALID_RESPONSE'
  /** callback: state unknown, missing, already used */
  | 'STATE_INVALID'
  /** callback: state found but past its expiry */
  | 'STATE_EXPIRED'
  /** callback: state belongs to another tenant/user, or the response names another issuer */
  | 'STATE_MISMATCH'
  /** callback: the user (or provider) refused the authorization request */
  | 'AUTHORIZATION_DENIED'
  /** the access token expires and there is no usable refresh token: the user must connect again */
  | 'REAUTHORIZATION_REQUIRED'
  /** the integration has no revocation endpoint */
  | 'REVOCATION_UNSUPPORTED';

const SAFE_PROVIDER_ERROR = /^[A-Za-z0-9_.-]{1,64}$/;

export class OAuthError extends Error {
  override readonly name = 'OAuthError';
  readonly code: OAuthErrorCode;
  /** The provider's `error` value (e.g. `invalid_grant`) when it is a plain identifier. */
  readonly providerError: string | undefined;
  readonly httpStatus: number | undefined;

  constructor(
    code: OAuthErrorCode,
    message: string,
    opts: { providerError?: unknown; httpStatus?: number; cause?: unknown } = {},
  ) {
    const providerError =
      typeof opts.providerError === 'string' && SAFE_PROVIDER_ERROR.test(opts.providerError)
        ? opts.providerError
        : opts.providerError === undefined
          ? undefined
          : 'unrecognized_error';
    super(providerError ? `${message} (${providerError})` : message, opts.cause ? { cause: opts.cause } : undefined);
    this.code = code;
    this.providerError = providerError;
    this.httpStatus = opts.httpStatus;
  }
}
