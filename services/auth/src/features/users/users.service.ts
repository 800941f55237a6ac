// Users of one company. Every read and write runs in a transaction scoped to the caller's
// tenant (row-level security), and every change commits together with its outbox event.
import type { Outbox } from '@flow8/bus';
import { newId, type Actor } from '@flow8/contracts';
import { pgCode, PgError, withTenant, type Pool, type Queryable } from '@flow8/db';
import { AppError } from '@flow8/http';
import { decodeCursor, page } from '@flow8/http';
import { authorize, who, type Caller, type Role } from '../../principal';
import type { Revocation } from '../api-keys/api-keys.repo';
import type { RevocationPublisher } from '../api-keys/revocations';
import { revokeUserSessions } from '../sessions/sessions.repo';
import { checkPassword, type PasswordHasher } from './password';
import { findUser, insertUser, listUsers, lockAdmins, softDeleteUser, updateUser, type UserRow } from './users.repo';

export { decodeCursor, encodeCursor } from '@flow8/http';

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
  await outbox.emit(tx, {
    type: 'identity.user.created',
    tenantId,
    actor,
    resource: { type: 'user', id: row.id },
    payload: { userId: row.id, role: row.role },
  });
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

const FOREIGN_KEY_VIOLATION = '23503';

/**
 * A removed or demoted user's API keys stop working: revoked in the same transaction, then
 * written to Redis (every gateway refuses them) before the request answers, like any other
 * revocation — keys carry their owner's role at issue, so until Redis has them a demoted Admin's
 * key still acts as Admin (and could, say, make its owner Admin again). If Redis fails, the
 * request answers 503 and the api-keys loop keeps retrying the pending revocations.
 */
async function revokeOwnedKeys(tx: Queryable, tenantId: string, userId: string): Promise<Revocation[]> {
  const r = await tx.query<{ id: string; jti: string; expires_at: Date }>(
    `UPDATE api_keys SET revoked_at = now(), revocation_pending = true
     WHERE tenant_id = $1 AND owner_id = $2 AND revoked_at IS NULL
     RETURNING id, jti, expires_at`,
    [tenantId, userId],
  );
  return r.rows.map((k) => ({ tenantId, id: k.id, jti: k.jti, expiresAt: k.expires_at }));
}

export function createUserService(deps: {
  pool: Pool;
  outbox: Outbox;
  hasher: Pick<PasswordHasher, 'hash'>;
  revocations: Pick<RevocationPublisher, 'publish'>;
  now?: () => Date;
}) {
  const { pool, outbox } = deps;
  const now = deps.now ?? (() => new Date());

  async function publishRevocations(revoked: readonly Revocation[]): Promise<void> {
    try {
      for (const r of revoked) await deps.revocations.publish(r);
    } catch (e) {
      throw new AppError(
        'UNAVAILABLE',
        "Saved; the user's API keys are revoked but not yet refused everywhere; retrying",
        {
          cause: e,
        },
      );
    }
  }
  return {
    async create(caller: Caller, input: { email: string; password: string; role: Role }): Promise<UserView> {
      authorize(who(caller), 'users.create');
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
      authorize(who(caller), 'users.list');
      const afterId = opts.cursor ? decodeCursor(opts.cursor, 'usr') : undefined;
      const rows = await withTenant(pool, caller.tenantId, (tx) =>
        listUsers(tx, caller.tenantId, { afterId, limit: opts.limit + 1 }),
      );
      return page(rows, opts.limit, userView);
    },

    /** Another company's user is indistinguishable from one that does not exist. */
    async get(caller: Caller, id: string): Promise<UserView> {
      authorize(who(caller), 'users.read');
      const row = await withTenant(pool, caller.tenantId, (tx) => findUser(tx, caller.tenantId, id));
      if (!row) throw new AppError('NOT_FOUND', 'User not found');
      return userView(row);
    },

    /**
     * Changes a user's role and/or e-mail address: one event per call that changes something
     * (`identity.user.role_changed` when the role changes, else `identity.user.email_changed`).
     * A change that would leave the company without an active Admin is a 409.
     */
    async update(caller: Caller, id: string, input: { email?: string; role?: Role }): Promise<UserView> {
      authorize(who(caller), 'users.update');
      let revoked: Revocation[] = [];
      try {
        const view = await withTenant(pool, caller.tenantId, async (tx) => {
          const admins = await lockAdmins(tx, caller.tenantId);
          const user = await findUser(tx, caller.tenantId, id, { forUpdate: true });
          if (!user) throw new AppError('NOT_FOUND', 'User not found');
          const email = input.email !== undefined ? normaliseEmail(input.email) : user.email;
          const role = input.role ?? user.role;
          const roleChanged = role !== user.role;
          const emailChanged = email !== user.email;
          if (!roleChanged && !emailChanged) return userView(user);
          if (roleChanged && user.role === 'admin' && admins.length <= 1) {
            throw new AppError(
              'CONFLICT',
              'The last Admin of a company cannot be demoted; make another user Admin first',
            );
          }
          const row = await updateUser(tx, id, { email, role }, now());
          if (roleChanged) {
            revoked = await revokeOwnedKeys(tx, caller.tenantId, id);
            await outbox.emit(tx, {
              type: 'identity.user.role_changed',
              tenantId: caller.tenantId,
              actor: caller.actor,
              resource: { type: 'user', id },
              payload: { userId: id, oldRole: user.role, newRole: role, emailChanged },
            });
          } else {
            await outbox.emit(tx, {
              type: 'identity.user.email_changed',
              tenantId: caller.tenantId,
              actor: caller.actor,
              resource: { type: 'user', id },
              payload: { userId: id },
            });
          }
          return userView(row);
        });
        await publishRevocations(revoked);
        return view;
      } catch (e) {
        return mapUserConflict(e);
      }
    },

    /** Soft-deletes a user and ends their sessions, with one `identity.user.removed` event. */
    async remove(caller: Caller, id: string): Promise<void> {
      authorize(who(caller), 'users.remove');
      const revoked = await withTenant(pool, caller.tenantId, async (tx) => {
        const admins = await lockAdmins(tx, caller.tenantId);
        const user = await findUser(tx, caller.tenantId, id, { forUpdate: true });
        if (!user) throw new AppError('NOT_FOUND', 'User not found');
        if (user.role === 'admin' && admins.length <= 1) {
          throw new AppError(
            'CONFLICT',
            'The last Admin of a company cannot be removed; make another user Admin first',
          );
        }
        const t = now();
        await softDeleteUser(tx, id, t);
        const sessionsEnded = await revokeUserSessions(tx, caller.tenantId, id, 'user_removed', t);
        const keys = await revokeOwnedKeys(tx, caller.tenantId, id);
        await outbox.emit(tx, {
          type: 'identity.user.removed',
          tenantId: caller.tenantId,
          actor: caller.actor,
          resource: { type: 'user', id },
          payload: { userId: id, role: user.role, sessionsEnded },
        });
        return keys;
      });
      await publishRevocations(revoked);
    },
  };
}

export type UserService = ReturnType<typeof createUserService>;
