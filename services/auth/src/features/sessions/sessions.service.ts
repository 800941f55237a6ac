// Password login, sessions and the signed-in user's own account. Login is the one place an
// unauthenticated party reaches the database, so it answers every refusal the same way (no
// oracle for companies, addresses or lock state) and spends the same bcrypt time on each.
import type { Outbox } from '@flow8/bus';
import { anonymousActor, newId } from '@flow8/contracts';
import { constantTimeEqual } from '@flow8/crypto';
import { withTenant, type Pool } from '@flow8/db';
import { AppError } from '@flow8/http';
import type { Logger } from '@flow8/telemetry';
import { authorize, permissionsOf, who, type Caller, type Role } from '../../principal';
import { newToken, tokenHash } from '../../lib/tokens';
import { checkPassword, type PasswordHasher } from '../users/password';
import { findCredentials, findUser, setLoginState, setPasswordHash, type Credentials } from '../users/users.repo';
import { normaliseEmail } from '../users/users.service';
import {
  findActiveSession,
  insertSession,
  revokeSession,
  revokeUserSessions,
  sessionTenant,
  tenantBySlug,
} from './sessions.repo';

/** The one answer to every refused login. */
export const LOGIN_REFUSED = 'The company, e-mail address or password is not correct, or the account is locked';

export interface LoginPolicy {
  sessionTtlMs: number;
  /** Failed attempts within lockoutWindowMs that lock the account… */
  lockoutThreshold: number;
  lockoutWindowMs: number;
  /** …for this long. */
  lockoutDurationMs: number;
}

export interface LoginResult {
  sessionToken: string;
  csrfToken: string;
  expiresAt: string;
  user: { id: string; email: string; role: Role; tenantId: string };
}

export interface ResolvedSession {
  principal: { tenantId: string; type: 'user'; id: string; role: Role; sessionId: string };
  csrfValid: boolean;
}

/**
 * Lockout arithmetic, pure. A failure inside the window adds to the count; one outside starts a
 * new window. Reaching the threshold locks the account and clears the count, so the lock's end
 * starts a clean slate.
 */
export function chargeAttempt(
  c: Pick<Credentials, 'failedLogins' | 'failedWindowStart'>,
  now: Date,
  policy: Pick<LoginPolicy, 'lockoutWindowMs'>,
): { failedLogins: number; failedWindowStart: Date } {
  const inWindow =
    c.failedWindowStart !== null && now.getTime() - c.failedWindowStart.getTime() < policy.lockoutWindowMs;
  return inWindow && c.failedWindowStart
    ? { failedLogins: c.failedLogins + 1, failedWindowStart: c.failedWindowStart }
    : { failedLogins: 1, failedWindowStart: now };
}

export function isLocked(c: Pick<Credentials, 'lockedUntil'>, now: Date): boolean {
  return c.lockedUntil !== null && c.lockedUntil.getTime() > now.getTime();
}

type Attempt = { kind: 'refused' } | { kind: 'check'; user: Credentials };
type Outcome = { kind: 'refused' } | { kind: 'ok'; result: LoginResult };

export function createSessionService(deps: {
  pool: Pool;
  outbox: Pick<Outbox, 'emit'>;
  hasher: PasswordHasher;
  policy: LoginPolicy;
  now: () => Date;
  logger: Pick<Logger, 'info'>;
}) {
  const { pool, outbox, hasher, policy, now } = deps;
  // A real bcrypt hash at the configured cost, so refusing an unknown company or address costs
  // the same time as refusing a wrong password.
  let dummy: Promise<string> | undefined;
  const burnTime = async (password: string) => {
    dummy ??= hasher.hash(newToken());
    await hasher.verify(password, await dummy);
  };
  const refused = () => new AppError('UNAUTHENTICATED', LOGIN_REFUSED);

  return {
    async login(input: {
      tenant: string;
      email: string;
      password: string;
      clientIp: string | null;
    }): Promise<LoginResult> {
      const email = normaliseEmail(input.email);
      const ip = input.clientIp;
      const tenantId = await tenantBySlug(pool, input.tenant);
      if (!tenantId) {
        // No company, so no tenant to file an event under: logged, not evented.
        deps.logger.info({ reason: 'unknown_tenant' }, 'login refused');
        await burnTime(input.password);
        throw refused();
      }

      // 1. Charge the attempt before checking the password, in its own transaction: parallel
      //    guesses each count, so no burst can get more than the threshold past the lock.
      const at = now();
      const attempt = await withTenant(pool, tenantId, async (tx): Promise<Attempt> => {
        const user = await findCredentials(tx, tenantId, { email });
        if (!user) {
          await outbox.emit(tx, {
            type: 'identity.login.failed',
            tenantId,
            actor: anonymousActor(ip),
            resource: { type: 'tenant', id: tenantId },
            payload: { userId: null, reason: 'unknown_user', lockedUntil: null },
          });
          return { kind: 'refused' };
        }
        const charged = chargeAttempt(user, at, policy);
        if (isLocked(user, at) || charged.failedLogins > policy.lockoutThreshold) {
          await outbox.emit(tx, {
            type: 'identity.login.failed',
            tenantId,
            actor: { type: 'user', id: user.id, ip },
            resource: { type: 'user', id: user.id },
            payload: { userId: user.id, reason: 'locked', lockedUntil: user.lockedUntil?.toISOString() ?? null },
          });
          return { kind: 'refused' };
        }
        await setLoginState(tx, user.id, { ...charged, lockedUntil: null });
        return { kind: 'check', user };
      });
      if (attempt.kind === 'refused') {
        await burnTime(input.password);
        throw refused();
      }

      // 2. bcrypt outside any transaction: it is slow on purpose and must not hold a row lock.
      const user = attempt.user;
      const passwordOk = await hasher.verify(input.password, user.passwordHash);

      // 3. Settle: a success resets the count and opens a session; a failure may lock.
      const t = now();
      const outcome = await withTenant(pool, tenantId, async (tx): Promise<Outcome> => {
        const cur = await findCredentials(tx, tenantId, { id: user.id });
        if (!cur) return { kind: 'refused' }; // removed in between; the removal is its own event
        if (!passwordOk || isLocked(cur, t)) {
          const lock = !passwordOk && cur.failedLogins >= policy.lockoutThreshold;
          const lockedUntil = lock ? new Date(t.getTime() + policy.lockoutDurationMs) : cur.lockedUntil;
          if (lock) await setLoginState(tx, cur.id, { failedLogins: 0, failedWindowStart: null, lockedUntil });
          await outbox.emit(tx, {
            type: 'identity.login.failed',
            tenantId,
            actor: { type: 'user', id: cur.id, ip },
            resource: { type: 'user', id: cur.id },
            payload: {
              userId: cur.id,
              reason: passwordOk ? 'locked' : 'bad_password',
              lockedUntil: lockedUntil && lockedUntil > t ? lockedUntil.toISOString() : null,
            },
          });
          return { kind: 'refused' };
        }
        await setLoginState(tx, cur.id, { failedLogins: 0, failedWindowStart: null, lockedUntil: null });
        // Always a fresh token: a session is never adopted from the client (no fixation).
        const sessionToken = newToken();
        const csrfToken = newToken();
        const sessionId = newId('ses');
        const expiresAt = new Date(t.getTime() + policy.sessionTtlMs);
        await insertSession(tx, {
          id: sessionId,
          tenantId,
          userId: cur.id,
          tokenHash: tokenHash(sessionToken),
          csrfHash: tokenHash(csrfToken),
          clientIp: ip,
          createdAt: t,
          expiresAt,
        });
        await outbox.emit(tx, {
          type: 'identity.login.succeeded',
          tenantId,
          actor: { type: 'user', id: cur.id, ip },
          resource: { type: 'session', id: sessionId },
          payload: { userId: cur.id, sessionId, expiresAt: expiresAt.toISOString() },
        });
        return {
          kind: 'ok',
          result: {
            sessionToken,
            csrfToken,
            expiresAt: expiresAt.toISOString(),
            user: { id: cur.id, email: cur.email, role: cur.role, tenantId },
          },
        };
      });
      if (outcome.kind === 'refused') throw refused();
      return outcome.result;
    },

    /** The gateway's per-request check: the session's principal, or 401. Expiry uses the injected clock. */
    async resolve(input: { sessionToken: string; csrfToken?: string }): Promise<ResolvedSession> {
      const hash = tokenHash(input.sessionToken);
      const tenantId = await sessionTenant(pool, hash);
      const session = tenantId
        ? await withTenant(pool, tenantId, (tx) => findActiveSession(tx, tenantId, hash, now()))
        : null;
      if (!tenantId || !session) throw new AppError('UNAUTHENTICATED', 'The session is not valid');
      const csrfValid =
        input.csrfToken !== undefined && constantTimeEqual(tokenHash(input.csrfToken), session.csrfHash);
      return {
        principal: { tenantId, type: 'user', id: session.userId, role: session.role, sessionId: session.id },
        csrfValid,
      };
    },

    async logout(caller: Caller): Promise<void> {
      authorize(who(caller), 'session.logout');
      const sessionId = caller.principal.sessionId;
      if (!sessionId) throw new AppError('BAD_REQUEST', 'Only a session can be logged out');
      await withTenant(pool, caller.tenantId, async (tx) => {
        const ended = await revokeSession(
          tx,
          caller.tenantId,
          { id: sessionId, userId: caller.actor.id },
          'logout',
          now(),
        );
        if (!ended) return; // already over: nothing changed, nothing to record
        await outbox.emit(tx, {
          type: 'identity.session.ended',
          tenantId: caller.tenantId,
          actor: caller.actor,
          resource: { type: 'session', id: sessionId },
          payload: { userId: caller.actor.id, sessionId, reason: 'logout' },
        });
      });
    },

    /** Changes the caller's password and ends every session of theirs, this one included. */
    async changePassword(caller: Caller, input: { currentPassword: string; newPassword: string }): Promise<void> {
      authorize(who(caller), 'password.change');
      const userId = caller.actor.id;
      const creds = await withTenant(pool, caller.tenantId, (tx) =>
        findCredentials(tx, caller.tenantId, { id: userId }),
      );
      if (!creds) throw new AppError('UNAUTHENTICATED', 'No such user');
      if (!(await hasher.verify(input.currentPassword, creds.passwordHash)))
        throw new AppError('FORBIDDEN', 'The current password is not correct');
      if (input.newPassword === input.currentPassword)
        throw new AppError('BAD_REQUEST', 'The new password must differ from the current one');
      const check = checkPassword(input.newPassword, creds.email);
      if (!check.ok)
        throw new AppError('BAD_REQUEST', check.reason, { details: [{ field: 'newPassword', message: check.reason }] });
      const hash = await hasher.hash(input.newPassword);
      await withTenant(pool, caller.tenantId, async (tx) => {
        const t = now();
        await setPasswordHash(tx, userId, hash, t);
        const sessionsEnded = await revokeUserSessions(tx, caller.tenantId, userId, 'password_changed', t);
        await outbox.emit(tx, {
          type: 'identity.user.password_changed',
          tenantId: caller.tenantId,
          actor: caller.actor,
          resource: { type: 'user', id: userId },
          payload: { userId, sessionsEnded },
        });
      });
    },

    async me(caller: Caller): Promise<MeView> {
      authorize(who(caller), 'me.read');
      const p = caller.principal;
      return withTenant(pool, caller.tenantId, async (tx) => {
        const { rows } = await tx.query<{ id: string; name: string; slug: string }>(
          'SELECT id, name, slug FROM tenants WHERE id = $1',
          [caller.tenantId],
        );
        const tenant = rows[0];
        if (!tenant) throw new AppError('UNAUTHENTICATED', 'No such company');
        const base = {
          tenant,
          role: caller.role,
          permissions: permissionsOf(who(caller)),
        };
        if (p.type === 'user') {
          const user = await findUser(tx, caller.tenantId, p.id);
          if (!user) throw new AppError('UNAUTHENTICATED', 'No such user');
          return {
            ...base,
            type: 'user' as const,
            user: { id: user.id, email: user.email, role: user.role },
            apiKey: null,
            sessionId: p.sessionId,
          };
        }
        return { ...base, type: p.type, user: null, apiKey: { id: p.id, scopes: p.scopes }, sessionId: null };
      });
    },
  };
}

export interface MeView {
  type: 'user' | 'api_key' | 'operator';
  user: { id: string; email: string; role: Role } | null;
  apiKey: { id: string; scopes: string[] } | null;
  sessionId: string | null;
  tenant: { id: string; name: string; slug: string };
  role: Role | null;
  permissions: string[];
}

export type SessionService = ReturnType<typeof createSessionService>;
