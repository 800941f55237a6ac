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
export {
  applyPrincipalEvent,
  grantHolderIdsSql,
  isPrincipalEvent,
  livePrincipal,
  livePrincipalJsonSql,
  principalFromJson,
  type PrincipalEvent,
  type ReplicatedPrincipal,
} from './principals';

/** The replica's tables (grants, principals) and progress, applied by every service that decides with them. */
export const GRANT_REPLICA_MIGRATIONS_DIR = fileURLToPath(new URL('../migrations', import.meta.url));
