// Companies. Only the platform operator creates one, together with its first Admin, in one
// transaction with both events. There is no tenant context before the company exists, so the
// transaction adopts the NEW tenant's id first: row-level security's WITH CHECK then admits
// exactly these rows, and the runtime role needs no BYPASSRLS.
import type { Outbox } from '@flow8/bus';
import { newId, type Actor } from '@flow8/contracts';
import { pgCode, PgError, setTenant, withTransaction, type Pool } from '@flow8/db';
import { AppError } from '@flow8/http';
import type { PasswordHasher } from '../users/password';
import { constraintOf, insertUserWithEvent, prepareUser } from '../users/users.service';
import { insertTenant } from './tenants.repo';

export interface CreateTenantInput {
  name: string;
  slug: string;
  admin: { email: string; password: string };
}

export interface CreatedTenant {
  tenant: { id: string; name: string; slug: string; createdAt: string };
  admin: { id: string; email: string; role: 'admin'; createdAt: string };
}

export function createTenantService(deps: { pool: Pool; outbox: Outbox; hasher: Pick<PasswordHasher, 'hash'> }) {
  const { pool, outbox } = deps;
  return {
    async create(actor: Actor, input: CreateTenantInput): Promise<CreatedTenant> {
      const admin = await prepareUser(deps.hasher, { ...input.admin, role: 'admin' });
      const tenantId = newId('ten');
      try {
        return await withTransaction(pool, async (tx) => {
          await setTenant(tx, tenantId);
          const tenant = await insertTenant(tx, { id: tenantId, name: input.name.trim(), slug: input.slug });
          await outbox.emit(tx, {
            type: 'identity.tenant.created',
            tenantId,
            actor,
            resource: { type: 'tenant', id: tenantId },
            payload: { tenantId, name: tenant.name, slug: tenant.slug },
          });
          const user = await insertUserWithEvent(tx, outbox, tenantId, actor, admin);
          return {
            tenant: { id: tenant.id, name: tenant.name, slug: tenant.slug, createdAt: tenant.createdAt.toISOString() },
            admin: { id: user.id, email: user.email, role: 'admin', createdAt: user.createdAt.toISOString() },
          };
        });
      } catch (e) {
        if (pgCode(e) === PgError.UNIQUE_VIOLATION && constraintOf(e) === 'tenants_slug_key') {
          throw new AppError('CONFLICT', 'A company with this slug already exists', { cause: e });
        }
        throw e;
      }
    },
  };
}

export type TenantService = ReturnType<typeof createTenantService>;
