// The JSON Schema of a flow definition (proto/flow-definition.v1.schema.json), compiled once,
// and its errors as problems with JSON pointers. Structural checks only: the graph and CEL
// checks run after this in validate.ts.
import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ErrorObject } from 'ajv';
import type { DefinitionProblem } from './types';

export const flowDefinitionSchema: Record<string, unknown> = JSON.parse(
  readFileSync(new URL('../../../../../../proto/flow-definition.v1.schema.json', import.meta.url), 'utf8'),
) as Record<string, unknown>;

const ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true });
const validateFn = ajv.compile(flowDefinitionSchema);

/** RFC 6901 escaping of one reference token. */
export function pointerToken(token: string | number): string {
  return String(token).replace(/~/g, '~0').replace(/\//g, '~1');
}

function toProblem(e: ErrorObject): DefinitionProblem {
  // Never echo the offending value: it may be a secret pasted into the wrong field.
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required':
      return {
        pointer: `${e.instancePath}/${pointerToken(String(params.missingProperty))}`,
        code: 'required',
        message: `is required`,
      };
    case 'additionalProperties':
      return {
        pointer: `${e.instancePath}/${pointerToken(String(params.additionalProperty))}`,
        code: 'unknown_property',
        message: `is not a known property here`,
      };
    default:
      return { pointer: e.instancePath || '', code: `schema_${e.keyword}`, message: e.message ?? 'is invalid' };
  }
}

/** Schema problems of a submitted definition, or [] when it matches the schema. */
export function schemaProblems(definition: unknown): DefinitionProblem[] {
  if (validateFn(definition)) return [];
  const seen = new Set<string>();
  const out: DefinitionProblem[] = [];
  for (const e of validateFn.errors ?? []) {
    // `if`/`then` discriminators repeat the real error underneath them.
    if (e.keyword === 'if') continue;
    const p = toProblem(e);
    const key = `${p.pointer} ${p.code} ${p.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(p);
  }
  return out;
}
