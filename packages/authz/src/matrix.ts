// The one permission matrix (docs/identity-and-access.md § Authorization). Roles are fixed;
// a permission is a `resource:action` string. Every role check in flow8 reads this file, so a
// change here is a change of the product's access model — the unit tests pin it cell by cell.

export const ROLES = ['admin', 'flow_designer', 'executor', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

export const PERMISSIONS = [
  'users:read',
  'users:write',
  'grants:read',
  'grants:write',
  'partitions:read',
  'partitions:write',
  /** Every key of the company (Admin). */
  'api_keys:read',
  'api_keys:write',
  /** One's own keys only: any user may list, create, rotate and revoke the keys they own. */
  'api_keys:read_own',
  'api_keys:write_own',
  /** The company's IP allowlist. */
  'settings:read',
  'settings:write',
  'flows:read',
  'flows:write',
  'flows:execute',
  'executions:read',
  'executions:approve',
  'integrations:read',
  'integrations:write',
  'integrations:use',
  'credentials:read',
  'credentials:write',
  /** Rotate the company's data key. */
  'keys:rotate',
  'audit:read',
  /** Have audit-ingest sign a checkpoint of the company's chains now (Admin; a key needs the scope). */
  'audit:checkpoint',
  /** Create a company and its first Admin: the platform operator only, never a role. */
  'tenants:create',
] as const;
export type Permission = (typeof PERMISSIONS)[number];

const PERMISSION_SET: ReadonlySet<string> = new Set(PERMISSIONS);
export function isPermission(value: unknown): value is Permission {
  return typeof value === 'string' && PERMISSION_SET.has(value);
}

const ROLE_SET: ReadonlySet<string> = new Set(ROLES);
export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && ROLE_SET.has(value);
}

/** Held by the platform operator only; no role and no grant ever reaches it. */
export const OPERATOR_ONLY: ReadonlySet<Permission> = new Set<Permission>(['tenants:create']);

/**
 * Company administration: only the Admin role holds these, and no grant can extend another
 * role to them (a grant on one flow must never turn into "may manage users").
 */
export const ADMIN_ONLY: ReadonlySet<Permission> = new Set<Permission>([
  'users:read',
  'users:write',
  'grants:read',
  'grants:write',
  'partitions:read',
  'partitions:write',
  'api_keys:read',
  'api_keys:write',
  'settings:read',
  'settings:write',
  'keys:rotate',
  'audit:checkpoint',
]);

const OWN_KEYS: readonly Permission[] = ['api_keys:read_own', 'api_keys:write_own'];

export const ROLE_PERMISSIONS: Readonly<Record<Role, readonly Permission[]>> = {
  // Everything in the company: users, security policies, integrations, all flows and executions.
  admin: PERMISSIONS.filter((p) => !OPERATOR_ONLY.has(p)),
  // Builds flows and configures integrations and their credentials. Does not trigger runs or read
  // execution history by role (docs/api.md: triggering is the Executor's; history is "by grant"):
  // a grant on a flow extends a designer with `execute` or `read` of its executions where needed.
  flow_designer: [
    ...OWN_KEYS,
    'flows:read',
    'flows:write',
    'integrations:read',
    'integrations:write',
    'integrations:use',
    'credentials:read',
    'credentials:write',
  ],
  // Triggers flows and reads the execution history of the flows they can access; the flows they
  // run call integrations, hence `integrations:use` (narrowed by integration grants).
  executor: [...OWN_KEYS, 'flows:read', 'flows:execute', 'executions:read', 'integrations:use'],
  // Read-only flows and executions, and the audit log (docs/api.md § Audit: "Admin, Viewer"):
  // compliance officers and auditors.
  viewer: [...OWN_KEYS, 'flows:read', 'executions:read', 'audit:read'],
};

const ROLE_PERMISSION_SETS: Readonly<Record<Role, ReadonlySet<Permission>>> = {
  admin: new Set(ROLE_PERMISSIONS.admin),
  flow_designer: new Set(ROLE_PERMISSIONS.flow_designer),
  executor: new Set(ROLE_PERMISSIONS.executor),
  viewer: new Set(ROLE_PERMISSIONS.viewer),
};

export function roleHas(role: Role, permission: Permission): boolean {
  return ROLE_PERMISSION_SETS[role].has(permission);
}
