// Users of one company. Every read and write runs in a transaction scoped to the caller's
// tenant (row-level security), and every change commits together with its outbox event.
import type { Outbox } from '@flow8/bus';
import { buildEvent, newId, type Actor } from '@flow8/contracts';
import { pgCode, PgError, withTenant, type Pool, type Queryable } from '@flow8/db';
import { AppError } from '@flow8/http';
import { currentTraceparent } from '@flow8/telemetry';
import { authorize, type Caller, type Role } from '../../principal';
import { checkPassword, type PasswordHasher } from './password';
import { findUser, insertUser, listUsers, type UserRow } from './users.repo';

export interface UserView {
  id: string;
  email: string;
  role: Role;
  createdAt: string;
  updatedAt: string;
}

export function userView(u: UserRow): UserView {
  return {
    id: u.id,
    email: u.email,
    role: u.role,
    createdAt: u.createdAt.toISOString(),
    updatedAt: u.updatedAt.toISOString(),
  };
}

export function normaliseEmail(email: string): string {
  return email.trim().toLowerCase();
}

export interface NewUser {
  id: string;
  email: string;
  role: Role;
  passwordHash: string;
}

/** Applies the password policy, then hashes. Runs before the transaction: bcrypt is slow on purpose. */
export async function prepareUser(
  hasher: Pick<PasswordHasher, 'hash'>,
  input: { email: string; password: string; role: Role },
): Promise<NewUser> {
  const email = normaliseEmail(input.email);
  const check = checkPassword(input.password, email);
  if (!check.ok)
    throw new AppError('BAD_REQUEST', check.reason, { details: [{ field: 'password', message: check.reason }] });
  return { id: newId('usr'), email, role: input.role, passwordHash: await hasher.hash(input.password) };
}

/** Inserts the user and its event in the caller's transaction. The event carries no personal data. */
export async function insertUserWithEvent(
  tx: Queryable,
  outbox: Outbox,
  tenantId: string,
  actor: Actor,
  user: NewUser,
): Promise<UserRow> {
  const row = await insertUser(tx, { ...user, tenantId });
  await outbox.add(
    tx,
    buildEvent({
      type: 'identity.user.created',
      tenantId,
      actor,
      resource: { type: 'user', id: row.id },
      payload: { userId: row.id, role: row.role },
      traceparent: currentTraceparent() ?? null,
    }),
  );
  return row;
}

/** A unique violation on (tenant_id, email) is the caller's conflict, not a server fault. */
export function mapUserConflict(e: unknown): never {
  if (pgCode(e) === PgError.UNIQUE_VIOLATION && constraintOf(e) === 'users_tenant_email_key') {
    throw new AppError('CONFLICT', 'A user with this e-mail address already exists in this company', { cause: e });
  }
  throw e;
}

export function constraintOf(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && 'constraint' in e
    ? String((e as { constraint: unknown }).constraint)
    : undefined;
}

export function encodeCursor(lastId: string): string {
  return Buffer.from(JSON.stringify({ a: lastId })).toString('base64url');
}

export function decodeCursor(cursor: string): string {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { a?: unknown };
    if (typeof v.a === 'string' && /^usr_[0-9a-z]{26}$/.test(v.a)) return v.a;
  } catch {
    // fall through
  }
  throw new AppError('BAD_REQUEST', 'cursor is not valid');
}

const FOREIGN_KEY_VIOLATION = '23503';

export function createUserService(deps: { pool: Pool; outbox: Outbox; hasher: Pick<PasswordHasher, 'hash'> }) {
  const { pool, outbox } = deps;
  return {
    async create(caller: Caller, input: { email: string; password: string; role: Role }): Promise<UserView> {
      authorize(caller, 'users.create');
      const user = await prepareUser(deps.hasher, input);
      try {
        const row = await withTenant(pool, caller.tenantId, (tx) =>
          insertUserWithEvent(tx, outbox, caller.tenantId, caller.actor, user),
        );
        return userView(row);
      } catch (e) {
        if (pgCode(e) === FOREIGN_KEY_VIOLATION) throw new AppError('NOT_FOUND', 'Company not found', { cause: e });
        return mapUserConflict(e);
      }
    },

    async list(
      caller: Caller,
      opts: { limit: number; cursor?: string },
    ): Promise<{ items: UserView[]; nextCursor: string | null }> {
      authorize(caller, 'users.list');
      const afterId = opts.cursor ? decodeCursor(opts.cursor) : undefined;
      const rows = await withTenant(pool, caller.tenantId, (tx) =>
        listUsers(tx, caller.tenantId, { afterId, limit: opts.limit + 1 }),
      );
      const page = rows.slice(0, opts.limit);
      const last = page[page.length - 1];
      return { items: page.map(userView), nextCursor: rows.length > opts.limit && last ? encodeCursor(last.id) : null };
    },

    /** Another company's user is indistinguishable from one that does not exist. */
    async get(caller: Caller, id: string): Promise<UserView> {
      authorize(caller, 'users.read');
      const row = await withTenant(pool, caller.tenantId, (tx) => findUser(tx, caller.tenantId, id));
      if (!row) throw new AppError('NOT_FOUND', 'User not found');
      return userView(row);
    },
  };
}

export type UserService = ReturnType<typeof createUserService>;
