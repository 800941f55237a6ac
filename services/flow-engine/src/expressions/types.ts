// What the checker knows about a value's CEL type at save time. JSON data only: objects are CEL
// maps with string keys (`object` when the fields are known from a schema or a map flowlet),
// and every JSON number is a CEL `double` at run time (see cel.ts), whatever the schema says.
import type { Json } from '../features/flows/definition/types';

export type TypeDesc =
  | { kind: 'dyn' }
  | { kind: 'null' | 'bool' | 'int' | 'uint' | 'double' | 'string' | 'bytes' | 'timestamp' | 'duration' | 'type' }
  | { kind: 'list'; element: TypeDesc }
  | { kind: 'map'; value: TypeDesc }
  /**
   * A JSON object with known fields. `closed`: no other field exists (a schema with
   * `additionalProperties: false`, a map flowlet's output, `steps`). `what` names it in messages.
   */
  | { kind: 'object'; fields: Record<string, TypeDesc>; closed: boolean; what?: string };

export const DYN: TypeDesc = { kind: 'dyn' };
export const T = {
  dyn: DYN,
  null: { kind: 'null' },
  bool: { kind: 'bool' },
  int: { kind: 'int' },
  uint: { kind: 'uint' },
  double: { kind: 'double' },
  string: { kind: 'string' },
  bytes: { kind: 'bytes' },
  timestamp: { kind: 'timestamp' },
  duration: { kind: 'duration' },
  list: (element: TypeDesc = DYN): TypeDesc => ({ kind: 'list', element }),
  map: (value: TypeDesc = DYN): TypeDesc => ({ kind: 'map', value }),
  object: (fields: Record<string, TypeDesc>, closed: boolean, what?: string): TypeDesc =>
    what === undefined ? { kind: 'object', fields, closed } : { kind: 'object', fields, closed, what },
} as const satisfies Record<string, TypeDesc | ((...a: never[]) => TypeDesc)>;

/** The CEL type name the library's overloads use for this type. */
export function celTypeName(t: TypeDesc): string {
  switch (t.kind) {
    case 'object':
    case 'map':
      return 'map';
    case 'null':
      return 'null_type';
    case 'timestamp':
      return 'google.protobuf.Timestamp';
    case 'duration':
      return 'google.protobuf.Duration';
    default:
      return t.kind;
  }
}

export function describeType(t: TypeDesc): string {
  switch (t.kind) {
    case 'list':
      return `list(${describeType(t.element)})`;
    case 'map':
      return `map(string, ${describeType(t.value)})`;
    case 'object':
      return t.what ?? 'map(string, dyn)';
    default:
      return t.kind;
  }
}

const MAX_SCHEMA_DEPTH = 16;

/**
 * The CEL type of data described by a JSON Schema (the flow's input schema, an operation's output
 * schema). Unions, `$ref`s and anything unusual become `dyn`: the checker then lets them through
 * and the run-time check decides.
 */
export function typeFromJsonSchema(schema: Json | undefined, depth = 0): TypeDesc {
  if (schema === null || typeof schema !== 'object' || Array.isArray(schema) || depth > MAX_SCHEMA_DEPTH) return DYN;
  switch (schema.type) {
    case 'string':
      return T.string;
    case 'number':
    case 'integer':
      return T.double;
    case 'boolean':
      return T.bool;
    case 'null':
      return T.null;
    case 'array':
      return T.list(typeFromJsonSchema(schema.items, depth + 1));
    case 'object': {
      const props = schema.properties;
      const fields: Record<string, TypeDesc> = {};
      if (props !== null && typeof props === 'object' && !Array.isArray(props)) {
        for (const [k, v] of Object.entries(props)) fields[k] = typeFromJsonSchema(v, depth + 1);
      }
      return T.object(fields, schema.additionalProperties === false);
    }
    default:
      return DYN;
  }
}
