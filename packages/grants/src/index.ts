import { fileURLToPath } from 'node:url';

export {
  applyGrantEvent,
  createGrantReplica,
  grantsFromRows,
  grantsOfPrincipals,
  GrantReplicaNotReady,
  liveGrantsJsonSql,
  type GrantPrincipalRef,
  type GrantReplica,
  type GrantReplicaOptions,
  type GrantReplicaRow,
  type GrantReplicaState,
} from './replica';

/** The replica's table and progress, applied by every service that decides with grants. */
export const GRANT_REPLICA_MIGRATIONS_DIR = fileURLToPath(new URL('../migrations', import.meta.url));
