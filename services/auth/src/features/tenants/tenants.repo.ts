import type { Queryable } from '@flow8/db';

export interface TenantRow {
  id: string;
  name: string;
  slug: string;
  createdAt: Date;
}

type Raw = { id: string; name: string; slug: string; created_at: Date };

/** Row-level security admits the insert only when the transaction's tenant context is `t.id`. */
export async function insertTenant(tx: Queryable, t: { id: string; name: string; slug: string }): Promise<TenantRow> {
  const { rows } = await tx.query<Raw>(
    'INSERT INTO tenants (id, name, slug) VALUES ($1, $2, $3) RETURNING id, name, slug, created_at',
    [t.id, t.name, t.slug],
  );
  const r = rows[0]!;
  return { id: r.id, name: r.name, slug: r.slug, createdAt: r.created_at };
}
