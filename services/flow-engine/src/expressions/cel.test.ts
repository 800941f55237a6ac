import {
  DEFAULT_LIMITS,
  T,
  compileExpression,
  evaluate,
  evaluateBool,
  typeFromJsonSchema,
  type TypeDesc,
} from './index';
import type { Json } from '../features/flows/definition/types';

const inputType = typeFromJsonSchema({
  type: 'object',
  additionalProperties: false,
  properties: {
    name: { type: 'string' },
    amount: { type: 'number' },
    tags: { type: 'array', items: { type: 'string' } },
    lines: { type: 'array', items: { type: 'object', properties: { hours: { type: 'number' } } } },
    blob: { type: 'string' },
    n: { type: 'integer' },
    extra: { type: 'object' },
  },
});
const scope: Record<string, TypeDesc> = {
  input: inputType,
  steps: T.object({ prepare: T.object({ total: T.double }, true) }, true, 'steps'),
  trigger: T.object({ kind: T.string }, false),
};
const site = { flowletId: 'calc', pointer: '/flowlets/0/output/x' };

function compiled(source: string, s: Record<string, TypeDesc> = scope) {
  const r = compileExpression(source, s, site);
  if (!r.ok) throw new Error(`did not compile: ${JSON.stringify(r.problems)}`);
  return r.expr;
}
function problems(source: string, s: Record<string, TypeDesc> = scope) {
  const r = compileExpression(source, s, site);
  return r.ok ? [] : r.problems;
}
function run(source: string, bindings: Record<string, Json>) {
  return evaluate(compiled(source), bindings);
}

const data = { input: { name: 'Ada', amount: 100, tags: ['a', 'b'], lines: [{ hours: 1.5 }, { hours: 2 }] } };

describe('compile: parse and type-check at save', () => {
  it.each([
    ['input.amount * 1.2 > 100.0', T.bool],
    ['"Dear " + input.name', T.string],
    ['size(input.tags)', T.int],
    ['input.lines.map(l, l.hours)', T.list(T.double)],
    ['steps.prepare.total', T.double],
    ['{"who": input.name, "n": 1}', T.object({ who: T.string, n: T.int }, true)],
    ['has(input.extra.x) ? input.extra.x : null', T.dyn],
    ['input.tags.exists(t, t == "a")', T.bool],
    ['input.name.startsWith("A") && input.amount >= 10.0', T.bool],
  ])('%s has type %j', (source, type) => {
    expect(compiled(source).type).toEqual(type);
  });

  it.each([
    ['input.amount +', 'cel_syntax'],
    ['inptu.amount', 'unknown_variable'],
    ['input.amout', 'unknown_field'],
    ['steps.later.total', 'unknown_field'],
    ['input.amount * 2', 'type_mismatch'],
    ['input.name - 1', 'type_mismatch'],
    ['input.tags.size() && true', 'type_mismatch'],
    ['input.name.field', 'type_mismatch'],
    ['eval(input.name)', 'unknown_function'],
    ['google.protobuf.Value{}', 'unsupported'],
  ])('%s is refused (%s)', (source, code) => {
    expect(problems(source)).toContainEqual(expect.objectContaining({ code }));
  });

  it('explains why a number literal does not mix with JSON numbers', () => {
    expect(problems('input.amount * 2')[0]?.message).toMatch(/write 2\.0/);
  });

  it('names the flowlets available when steps.<id> is not upstream', () => {
    expect(problems('steps.later.total')[0]?.message).toMatch(/no flowlet 'later'.*available: prepare/);
  });

  it('reports every problem of one expression', () => {
    expect(problems('inptu.a + input.nope + steps.zzz').length).toBeGreaterThanOrEqual(3);
  });

  it('binds item and index only where declared (a foreach body)', () => {
    expect(problems('item.x')).toContainEqual(expect.objectContaining({ code: 'unknown_variable' }));
    expect(problems('item.x + string(index)', { ...scope, item: T.dyn, index: T.int })).toEqual([]);
  });

  it('refuses expressions over the caps at save', () => {
    expect(problems('1 + '.repeat(2000) + '1')).toContainEqual(expect.objectContaining({ code: 'cel_too_long' }));
    expect(problems('('.repeat(40) + '1' + ')'.repeat(40))).toContainEqual(
      expect.objectContaining({ code: 'cel_too_deep' }),
    );
    expect(problems('[' + '1,'.repeat(1500) + '1]')).toContainEqual(
      expect.objectContaining({ code: 'cel_too_complex' }),
    );
    expect(
      problems('input.tags.all(a, input.tags.all(b, input.tags.all(c, input.tags.all(d, a == d))))'),
    ).toContainEqual(expect.objectContaining({ code: 'cel_too_complex' }));
  });
});

describe('evaluate at run time', () => {
  it('gives JSON', () => {
    expect(
      run('{"total": input.amount * 1.5, "names": input.lines.map(l, l.hours), "n": size(input.tags)}', data),
    ).toEqual({
      ok: true,
      value: { total: 150, names: [1.5, 2], n: 2 },
    });
    expect(run('timestamp("2026-04-03T14:14:00Z") + duration("1h")', data)).toEqual({
      ok: true,
      value: '2026-04-03T15:14:00.000Z',
    });
  });

  it('a failing expression names the flowlet and the expression, without the data', () => {
    const r = evaluate(compiled('int(input.name)'), { input: { ...data.input, name: '123-45-6789' } });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.code).toBe('evaluation_failed');
    expect(r.error.message).toContain("flowlet 'calc'");
    expect(r.error.message).toContain('/flowlets/0/output/x');
    expect(r.error.message).toContain('int(input.name)');
    expect(r.error.message).not.toContain('123-45-6789');
  });

  it('a missing field fails the step cleanly', () => {
    const r = evaluate(compiled('input.extra.x'), { input: { extra: {} } });
    expect(r).toMatchObject({ ok: false, error: { code: 'evaluation_failed' } });
  });

  it('division by zero fails cleanly', () => {
    expect(run('size(input.tags) / 0', data)).toMatchObject({ ok: false, error: { code: 'evaluation_failed' } });
  });

  it('evaluateBool refuses a non-boolean', () => {
    expect(evaluateBool(compiled('input.extra'), { input: { extra: 'yes' } })).toMatchObject({
      ok: false,
      error: { code: 'wrong_result_type' },
    });
  });

  it('integers beyond 2^53 are not silently rounded', () => {
    expect(run('9223372036854775807', data)).toMatchObject({ ok: false, error: { code: 'result_not_json' } });
  });
});

describe('hostile expressions fail cleanly', () => {
  it('cannot loop: there is no recursion, and nested comprehensions over a big list are refused before running', () => {
    const big = Array.from({ length: 5000 }, (_, i) => `t${i}`);
    const r = evaluate(compiled('input.tags.exists(a, input.tags.exists(b, a + b == "never"))'), {
      input: { tags: big },
    });
    expect(r).toMatchObject({ ok: false, error: { code: 'too_costly' } });
  });

  it('cannot blow memory by doubling strings inside comprehensions', () => {
    const tags = Array.from({ length: 900 }, (_, i) => `t${i}`);
    const blob = 'x'.repeat(100_000);
    const started = process.hrtime.bigint();
    const r = evaluate(compiled('input.tags.map(a, input.tags.map(b, input.blob + input.blob))'), {
      input: { tags, blob },
    });
    expect(r).toMatchObject({ ok: false, error: { code: 'too_costly' } });
    expect(Number(process.hrtime.bigint() - started) / 1e6).toBeLessThan(2000);
  });

  it('cannot build a huge list by comprehension', () => {
    // 1,000² iterations: refused before running.
    const tags = Array.from({ length: 1000 }, (_, i) => `t${i}`);
    const expr = compiled('input.tags.map(a, input.tags.map(b, [a, b, a, b]))');
    expect(evaluate(expr, { input: { tags } })).toMatchObject({ ok: false, error: { code: 'too_costly' } });
    // 150² iterations run, and the 90,000-element result is over the result cap.
    expect(evaluate(expr, { input: { tags: tags.slice(0, 150) } })).toMatchObject({
      ok: false,
      error: { code: 'result_too_large' },
    });
  });

  it('a result over the result cap is refused', () => {
    const r = evaluate(compiled('input.blob + input.blob'), { input: { blob: 'y'.repeat(200_000) } });
    expect(r).toMatchObject({ ok: false, error: { code: 'result_too_large' } });
  });

  it('input over the caps is refused before evaluation', () => {
    expect(
      evaluate(compiled('input.name'), { input: { name: 'z'.repeat(DEFAULT_LIMITS.maxInputBytes + 1) } }),
    ).toMatchObject({
      ok: false,
      error: { code: 'input_too_large' },
    });
    expect(
      evaluate(compiled('size(input.tags)'), {
        input: { tags: Array.from({ length: DEFAULT_LIMITS.maxListLength + 1 }, () => 'a') },
      }),
    ).toMatchObject({ ok: false, error: { code: 'list_too_large' } });
  });

  it('regular expressions are linear (RE2): a catastrophic-backtracking pattern answers at once', () => {
    const started = process.hrtime.bigint();
    const r = run('input.name.matches("^(a+)+$")', { input: { name: 'a'.repeat(5000) + '!' } });
    expect(r).toEqual({ ok: true, value: false });
    expect(Number(process.hrtime.bigint() - started) / 1e6).toBeLessThan(2000);
  });

  it.each([
    'process.env',
    'globalThis.process',
    'require("fs")',
    'import("fs")',
    'this',
    'constructor',
    'input.constructor.constructor("return process")()',
    'input.__proto__',
  ])('cannot reach outside its input: %s is refused at save', (source) => {
    expect(problems(source).length).toBeGreaterThan(0);
  });

  it.each(['constructor', '__proto__', 'toString', 'hasOwnProperty'])(
    'prototype keys are not fields of the data: input.extra["%s"] fails at run time',
    (key) => {
      const r = evaluate(compiled(`input.extra["${key}"]`), { input: { extra: {} } });
      expect(r).toMatchObject({ ok: false, error: { code: 'evaluation_failed' } });
    },
  );

  it('a map result cannot set a prototype', () => {
    const r = run('{"__proto__": {"polluted": true}}', data);
    expect(r.ok).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('list values stay immutable under the in-place append', () => {
  it('two appends to the same list do not see each other', () => {
    const r = run('(input.tags + []).map(t, t).size() + ((input.tags + []) + ["x"]).size()', data);
    expect(r).toEqual({ ok: true, value: 5 });
    expect(run('[(input.tags + ["x"]), (input.tags + ["y"])]', data)).toEqual({
      ok: true,
      value: [
        ['a', 'b', 'x'],
        ['a', 'b', 'y'],
      ],
    });
  });
  it('a list built by map can be appended to twice independently', () => {
    expect(
      run(
        '[input.tags.map(t, t + "!") + ["x"], input.tags.map(t, t + "!") + ["y"], input.tags.filter(t, t == "a")]',
        data,
      ),
    ).toEqual({
      ok: true,
      value: [['a!', 'b!', 'x'], ['a!', 'b!', 'y'], ['a']],
    });
  });
  it('a map over the longest allowed list answers within seconds', () => {
    const tags = Array.from({ length: DEFAULT_LIMITS.maxListLength }, (_, i) => `t${i}`);
    const started = process.hrtime.bigint();
    const r = evaluate(compiled('input.tags.map(t, t + "!").filter(t, t.startsWith("t1")).size()'), {
      input: { tags },
    });
    expect(r).toEqual({ ok: true, value: 1111 });
    expect(Number(process.hrtime.bigint() - started) / 1e6).toBeLessThan(5000);
  });
});
