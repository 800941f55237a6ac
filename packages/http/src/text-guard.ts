// Text every flow8 service accepts, checked once at the edge of each service (this module is
// installed by buildServiceApp, so the gateway and every internal service refuse the same way):
//
// - bodies must be valid UTF-8 (RFC 8259 § 8.1): Node's default decoding would silently turn bad
//   bytes into U+FFFD, and the rewritten text would be stored — or sealed as a secret — as if it
//   were what the client sent;
// - no string and no key may hold U+0000 (PostgreSQL text cannot store it: the request failed
//   with a 500 after reaching the database) or an unpaired surrogate (not Unicode: it cannot be
//   encoded as UTF-8 and would also be stored rewritten) — the I-JSON rules (RFC 7493 § 2.1);
// - JSON may nest at most `maxDepth` levels, checked before parsing: a 10,000-deep body
//   otherwise overflows the stack of whatever walks it next;
// - the URL (path and query string), after percent-decoding, must be valid UTF-8 without NUL.
//
// Every refusal is a 400 `BAD_REQUEST` in the error model; the message names where the problem
// is, never what was sent.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError } from './errors';

/** Deepest accepted JSON nesting (objects and arrays). No flow8 API needs more than a handful. */
export const DEFAULT_MAX_JSON_DEPTH = 64;

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The bytes as text, or null when they are not valid UTF-8. */
export function decodeUtf8(bytes: Uint8Array): string | null {
  try {
    return utf8.decode(bytes);
  } catch {
    return null;
  }
}

/**
 * True when the JSON text nests objects/arrays deeper than `max`. A linear scan that skips
 * string contents; it never recurses, so it is safe on any input. On text that is not JSON
 * the answer is meaningless, and the parser refuses that text anyway.
 */
export function jsonDepthExceeds(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i += 1; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      depth += 1;
      if (depth > max) return true;
    } else if (c === 0x7d || c === 0x5d) depth -= 1;
  }
  return false;
}

export type TextProblem = 'nul' | 'surrogate';

function problemOf(s: string): TextProblem | null {
  if (s.includes('\u0000')) return 'nul';
  if (!s.isWellFormed()) return 'surrogate';
  return null;
}

/**
 * The first string or key in a parsed JSON value that holds NUL or an unpaired surrogate, with
 * its location as a JSON pointer. `value` must be depth-capped already (it is walked recursively).
 */
export function findBadText(value: unknown, pointer = ''): { pointer: string; problem: TextProblem } | null {
  if (typeof value === 'string') {
    const problem = problemOf(value);
    return problem ? { pointer, problem } : null;
  }
  if (typeof value !== 'object' || value === null) return null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i += 1) {
      const found = findBadText(value[i], `${pointer}/${i}`);
      if (found) return found;
    }
    return null;
  }
  for (const [key, item] of Object.entries(value)) {
    const keyProblem = problemOf(key);
    // The key itself cannot be echoed (it is the bad text); point at its object.
    if (keyProblem) return { pointer: pointer === '' ? '/' : pointer, problem: keyProblem };
    const found = findBadText(item, `${pointer}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`);
    if (found) return found;
  }
  return null;
}

const PROBLEM_TEXT: Record<TextProblem, string> = {
  nul: 'must not contain a NUL character (U+0000)',
  surrogate: 'must be valid Unicode (an unpaired surrogate was sent)',
};

/** `/a/0/b` → `body.a[0].b`, the form clients read in a message. */
function fieldOf(context: string, pointer: string): string {
  let out = context;
  for (const raw of pointer.split('/').slice(1)) {
    if (raw === '') continue;
    const segment = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    out += /^\d+$/.test(segment) ? `[${segment}]` : `.${segment}`;
  }
  return out.length > 200 ? `${out.slice(0, 200)}…` : out;
}

function badText(context: string, pointer: string, problem: TextProblem): AppError {
  const field = fieldOf(context, pointer);
  const message = PROBLEM_TEXT[problem];
  return new AppError('BAD_REQUEST', `Invalid request: ${field} ${message}`, {
    details: [{ field, instancePath: pointer, message }],
  });
}

const NOT_UTF8 = () => new AppError('BAD_REQUEST', 'Invalid request: the body is not valid UTF-8');

/** Refusal of a URL whose percent-decoded path or query is not valid UTF-8, or holds NUL. */
export function checkUrlText(url: string): AppError | null {
  // Fast path: nothing percent-encoded and nothing beyond ASCII — nothing to decode.
  // eslint-disable-next-line no-control-regex
  if (!url.includes('%') && !/[^\x00-\x7f]/.test(url)) return null;
  const bytes: number[] = [];
  for (let i = 0; i < url.length; i += 1) {
    const c = url.charCodeAt(i);
    if (c === 0x25 && i + 2 < url.length && /^[0-9A-Fa-f]{2}$/.test(url.slice(i + 1, i + 3))) {
      bytes.push(parseInt(url.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (c < 0x100) {
      // Node hands the request target over byte by byte (latin1): one char, one byte.
      bytes.push(c);
    } else {
      for (const b of Buffer.from(url[i] ?? '', 'utf8')) bytes.push(b);
    }
  }
  const where = url.indexOf('?') === -1 ? 'the path' : 'the URL';
  if (bytes.includes(0)) {
    return new AppError('BAD_REQUEST', `Invalid request: ${where} must not contain a NUL character (%00)`);
  }
  if (decodeUtf8(Uint8Array.from(bytes)) === null) {
    return new AppError('BAD_REQUEST', `Invalid request: ${where} is not valid UTF-8 once percent-decoded`);
  }
  return null;
}

/** A JSON body: UTF-8, depth-capped, parsed with Fastify's own (poisoning-safe) parser, checked. */
export function installTextGuard(app: FastifyInstance, opts: { maxJsonDepth?: number } = {}): void {
  const maxDepth = opts.maxJsonDepth ?? DEFAULT_MAX_JSON_DEPTH;
  // The parser Fastify would have used: secure-json-parse with the instance's poisoning options.
  const parseJson = app.getDefaultJsonParser('error', 'error');

  app.addHook('onRequest', async (request: FastifyRequest) => {
    const refused = checkUrlText(request.raw.url ?? '');
    if (refused) throw refused;
  });

  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    const text = decodeUtf8(body as Buffer);
    if (text === null) return done(NOT_UTF8(), undefined);
    if (jsonDepthExceeds(text, maxDepth)) {
      return done(
        new AppError('BAD_REQUEST', `Invalid request: the body nests deeper than ${maxDepth} levels`),
        undefined,
      );
    }
    void parseJson(request, text, (err: Error | null, value?: unknown) => {
      if (err) return done(err, undefined);
      // NUL and surrogates can only arrive as \u escapes (raw ones are not valid JSON, or not
      // valid UTF-8): text without `\u` needs no walk.
      const found = text.includes('\\u') ? findBadText(value) : null;
      if (found) return done(badText('body', found.pointer, found.problem), undefined);
      done(null, value);
    });
  });
  app.addContentTypeParser('text/plain', { parseAs: 'buffer' }, (_request, body, done) => {
    const text = decodeUtf8(body as Buffer);
    if (text === null) return done(NOT_UTF8(), undefined);
    const problem = problemOf(text);
    if (problem) return done(badText('body', '', problem), undefined);
    done(null, text);
  });
}
