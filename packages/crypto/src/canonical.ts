// RFC 8785 JSON Canonicalization Scheme (JCS). The ledger hashes these bytes, so the rules are
// strict: anything JSON.stringify would silently coerce, drop or mangle is refused instead,
// because two writers that disagree on one byte produce two different chains.

/** Thrown when a value cannot be represented as RFC 8785 (I-JSON) data; `path` names where. */
export class CanonicalizationError extends Error {
  override readonly name = 'CanonicalizationError';
  constructor(
    readonly path: string,
    detail: string,
  ) {
    super(`cannot canonicalize ${path}: ${detail}`);
  }
}

// Lone surrogates are not valid Unicode text; I-JSON (RFC 7493), which JCS builds on, forbids them.
const LONE_SURROGATE = /\p{Cs}/u;
const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

function childPath(path: string, key: string): string {
  return IDENTIFIER.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

function serializeString(s: string, path: string, what: string): string {
  if (LONE_SURROGATE.test(s)) {
    throw new CanonicalizationError(path, `${what} contains a lone UTF-16 surrogate`);
  }
  // JSON.stringify's string escaping is exactly JCS's: \b \t \n \f \r \" \\, other controls as
  // lowercase \u00xx, everything else (including non-ASCII) verbatim.
  return JSON.stringify(s);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value !== 'object') return typeof value;
  const ctor = (value as { constructor?: { name?: unknown } }).constructor;
  return typeof ctor?.name === 'string' ? `a ${ctor.name}` : 'an exotic object';
}

function serialize(value: unknown, path: string, ancestors: Set<object>): string {
  switch (typeof value) {
    case 'string':
      return serializeString(value, path, 'string');
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) {
        throw new CanonicalizationError(path, `number ${String(value)} is not finite`);
      }
      // ECMAScript Number::toString is JCS's number format; JSON.stringify(-0) gives "0" as required.
      return JSON.stringify(value);
    case 'bigint':
      throw new CanonicalizationError(path, 'bigint is not a JSON number; convert it explicitly (e.g. to a string)');
    case 'undefined':
      throw new CanonicalizationError(path, 'undefined is not JSON');
    case 'function':
      throw new CanonicalizationError(path, 'a function is not JSON');
    case 'symbol':
      throw new CanonicalizationError(path, 'a symbol is not JSON');
    case 'object':
      break;
  }
  if (value === null) return 'null';
  const obj = value as object;
  if (ancestors.has(obj)) throw new CanonicalizationError(path, 'circular reference');

  if (Array.isArray(obj)) {
    ancestors.add(obj);
    const parts: string[] = [];
    for (let i = 0; i < obj.length; i++) {
      // Index access (not forEach) so holes in sparse arrays are seen, as undefined, and refused.
      parts.push(serialize(obj[i], `${path}[${i}]`, ancestors));
    }
    ancestors.delete(obj);
    return `[${parts.join(',')}]`;
  }

  const proto: unknown = Object.getPrototypeOf(obj);
  if (proto !== Object.prototype && proto !== null) {
    // Dates, Maps, Buffers, class instances: their JSON form depends on toJSON or is lossy;
    // the caller must choose the representation (e.g. toISOString()) before hashing.
    throw new CanonicalizationError(path, `${describe(obj)} is not a plain object`);
  }

  ancestors.add(obj);
  const record = obj as Record<string, unknown>;
  // Default sort compares UTF-16 code units, which is the order RFC 8785 §3.2.3 prescribes.
  const keys = Object.keys(record).sort();
  const parts: string[] = [];
  for (const key of keys) {
    const v = record[key];
    // Like JSON.stringify, a property whose value is undefined is absent (optional fields).
    if (v === undefined) continue;
    const p = childPath(path, key);
    parts.push(`${serializeString(key, p, 'property name')}:${serialize(v, p, ancestors)}`);
  }
  ancestors.delete(obj);
  return `{${parts.join(',')}}`;
}

/**
 * RFC 8785 canonical JSON text of `value`: object keys sorted by UTF-16 code units, ECMAScript
 * number formatting, no whitespace. Object properties whose value is `undefined` are omitted.
 * Throws CanonicalizationError for non-finite numbers, bigint, functions, symbols, undefined
 * (top level or in an array, including array holes), lone surrogates, circular references and
 * objects that are not plain objects or arrays (Date, Map, Buffer, class instances).
 */
export function canonicalize(value: unknown): string {
  // The fast path builds no paths; only when it refuses a value does the precise (slow) walk
  // run again to say where. The ledger canonicalizes every event, so this is a hot path.
  try {
    return fast(value, new Set());
  } catch (e) {
    if (e !== REFUSED) throw e;
  }
  return serialize(value, '$', new Set());
}

const REFUSED = Symbol('refused');

function fastString(s: string): string {
  if (!s.isWellFormed()) throw REFUSED;
  return JSON.stringify(s);
}

function fast(value: unknown, ancestors: Set<object>): string {
  switch (typeof value) {
    case 'string':
      return fastString(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw REFUSED;
      return JSON.stringify(value);
    case 'object':
      break;
    default:
      throw REFUSED;
  }
  if (value === null) return 'null';
  if (ancestors.has(value)) throw REFUSED;
  ancestors.add(value);
  let out: string;
  if (Array.isArray(value)) {
    out = '[';
    for (let i = 0; i < value.length; i++) out += (i > 0 ? ',' : '') + fast(value[i], ancestors);
    out += ']';
  } else {
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) throw REFUSED;
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record).sort();
    out = '{';
    let first = true;
    for (const key of keys) {
      const v = record[key];
      if (v === undefined) continue;
      out += (first ? '' : ',') + fastString(key) + ':' + fast(v, ancestors);
      first = false;
    }
    out += '}';
  }
  ancestors.delete(value);
  return out;
}

/**
 * Null when `value` is data that canonicalize() accepts (I-JSON, RFC 7493: finite numbers, no
 * lone surrogates in strings or property names, only plain objects, arrays and JSON scalars);
 * otherwise the reason, naming the path but never the offending text. Checking is cheaper than
 * serialising, for callers (event contracts) that must agree with the ledger without hashing.
 */
export function iJsonProblem(value: unknown): string | null {
  if (isIJson(value, new Set())) return null;
  try {
    serialize(value, '$', new Set());
  } catch (e) {
    if (e instanceof CanonicalizationError) return e.message;
    throw e;
  }
  return null;
}

function isIJson(value: unknown, ancestors: Set<object>): boolean {
  switch (typeof value) {
    case 'string':
      return value.isWellFormed();
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value);
    case 'object':
      break;
    default:
      return false;
  }
  if (value === null) return true;
  if (ancestors.has(value)) return false;
  ancestors.add(value);
  let ok = true;
  if (Array.isArray(value)) {
    for (let i = 0; ok && i < value.length; i++) ok = isIJson(value[i], ancestors);
  } else {
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) return false;
    const record = value as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      const v = record[key];
      if (!key.isWellFormed() || (v !== undefined && !isIJson(v, ancestors))) {
        ok = false;
        break;
      }
    }
  }
  ancestors.delete(value);
  return ok;
}

/** UTF-8 bytes of `canonicalize(value)`. */
export function canonicalBytes(value: unknown): Uint8Array {
  // Node's UTF-8 encoder is about three times faster than TextEncoder for short strings; the
  // bytes are the same. Exposed as a plain Uint8Array view.
  const b = Buffer.from(canonicalize(value), 'utf8');
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}
