// The session cookie, through @fastify/cookie: parsed on every request (request.cookies), set and
// cleared with reply.setCookie. Values are written and read as they are: a session token is
// checked against a strict character set that needs no encoding, so nothing is percent-encoded.
import type { CookieSerializeOptions, FastifyCookieOptions } from '@fastify/cookie';

export const SESSION_COOKIE = '__Host-flow8_session';
/** What a session token from auth looks like; anything else in the cookie is ignored. */
export const SESSION_TOKEN = /^[A-Za-z0-9._~+/=-]{16,512}$/;

const asIs = (value: string): string => value;

// parseOptions serves both the parser (decode) and reply.setCookie (encode); its type knows only the latter.
export const COOKIE_OPTIONS: FastifyCookieOptions = {
  hook: 'onRequest',
  parseOptions: { decode: asIs, encode: asIs } as CookieSerializeOptions,
};

/** `__Host-` cookies must be Secure, Path=/ and without Domain; Strict keeps other sites' requests out. */
export function sessionCookie(maxAgeSeconds: number): CookieSerializeOptions {
  return { path: '/', secure: true, httpOnly: true, sameSite: 'strict', maxAge: maxAgeSeconds, encode: asIs };
}
