// The package's public entry (`@flow8/auth`): what starts the service for tools
// that run the real service in-process (scripts/bench). Everything else stays internal.
export { createAuth } from './service';
export { authConfigSchema, type AuthConfig } from './config';
