// The package's public entry (`@flow8/credential-vault`): what starts the service, for tools
// that run the real service in-process (scripts/bench), and the root-key rotation
// the `rotate-root-key` command runs. Everything else stays internal.
export { createVault, SERVICE_NAME, type Vault } from './service';
export { vaultConfigSchema, type VaultConfig } from './config';
export { createKeyring, RootKeyMismatchError, type Keyring } from './keyring/keyring';
export { rotateRootKey } from './features/keys/keys.service';
