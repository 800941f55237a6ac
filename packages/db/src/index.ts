export {
  createPool,
  connectionConfig,
  userOf,
  DbConfigError,
  type Pool,
  type PoolClient,
  type Queryable,
  type PoolOptions,
} from './pool';
export { withTransaction, withTenant, setTenant, PgError, pgCode, type Isolation } from './tx';
export { runMigrations, loadMigrations, render, MigrationError, type Migration, type MigrationSet } from './migrate';
