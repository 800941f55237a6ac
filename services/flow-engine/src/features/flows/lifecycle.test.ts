import { lifecycle } from './lifecycle';

describe('flow lifecycle', () => {
  it.each([
    ['draft', 'save', 'draft'],
    ['draft', 'publish', 'published'],
    ['draft', 'archive', 'archived'],
    ['published', 'save', 'published'],
    ['published', 'publish', 'published'],
    ['published', 'archive', 'archived'],
  ] as const)('%s + %s → %s', (from, action, to) => {
    expect(lifecycle(from, action)).toEqual({ ok: true, next: to });
  });
  it.each(['save', 'publish', 'archive'] as const)('an archived flow refuses %s', (action) => {
    expect(lifecycle('archived', action)).toMatchObject({ ok: false });
  });
});
