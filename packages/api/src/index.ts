// The public API's schemas by section of docs/api.md. Import a section as a namespace:
//   import { credentials } from '@flow8/api';  credentials.createCredential.body
export * as credentials from './credentials';
export * as audit from './audit';
export { INTEGRATIONS, CREDENTIAL_KINDS, type Integration, type CredentialKind } from './credentials';
