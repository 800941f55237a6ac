// The public API: the route table (every route, its access rule, owning service and schemas) and
// the schemas by section of docs/api.md. Import a section as a namespace:
//   import { credentials } from '@flow8/api';  credentials.createCredential.body
export * as credentials from './credentials';
export * as audit from './audit';
export * as identity from './identity';
export * as flows from './flows';
export { INTEGRATIONS, CREDENTIAL_KINDS, type Integration, type CredentialKind } from './credentials';
export { ROUTES, routeKey, csrfRequired, matchRoute } from './routes';
export type { RouteSpec, RouteSchemas, Upstream, Section } from './routes';
export { errors, errorSchema, securityOf, securitySchemes } from './openapi';
export type { ErrorStatus, Security } from './openapi';
