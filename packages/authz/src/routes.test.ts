// The route-level gate over access rules written here; the rules of the real routes are the
// route table of @flow8/api, tested there (role × route, every row).
import type { Principal } from './decide';
import { authorizeRoute, expectedAllowed, type RouteRule } from './routes';

const user: Principal = { type: 'user', id: 'usr_a', role: 'admin' };
const key: Principal = { type: 'api_key', id: 'key_a', role: 'admin', scopes: ['audit:read'], ownerId: 'usr_a' };
const operator: Principal = { type: 'operator', id: 'operator' };

const rule = (r: Omit<RouteRule, 'method' | 'path'>): RouteRule =>
  ({ method: 'GET', path: '/v1/x', ...r }) as RouteRule;

describe('authorizeRoute by the credentials a route accepts', () => {
  it('a session-only route refuses an API key, with a reason naming both', () => {
    const r = rule({ permission: 'authenticated', auth: ['session'] });
    expect(authorizeRoute(user, r).allow).toBe(true);
    const d = authorizeRoute(key, r);
    expect(d.allow).toBe(false);
    expect(d.reason).toContain('session');
    expect(d.reason).toContain('api_key');
  });

  it('an API-key-only route refuses a session even of an Admin, and a session user expects nothing there', () => {
    const r = rule({ permission: 'audit:read', auth: ['api_key'] });
    expect(authorizeRoute(key, r).allow).toBe(true);
    expect(authorizeRoute(user, r).allow).toBe(false);
    expect(expectedAllowed('admin', r)).toBe(false);
  });

  it('the operator passes only operator routes; nobody passes a guarded route', () => {
    const op = rule({ permission: 'operator', auth: ['operator'] });
    const guarded = rule({ permission: 'audit:read', auth: ['session', 'api_key'] });
    expect(authorizeRoute(operator, op).allow).toBe(true);
    expect(authorizeRoute(user, op).allow).toBe(false);
    expect(authorizeRoute(operator, guarded).allow).toBe(false);
    expect(authorizeRoute(null, guarded).allow).toBe(false);
    expect(authorizeRoute(null, rule({ permission: 'public', auth: [] })).allow).toBe(true);
  });
});
