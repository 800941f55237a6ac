// The package's public entry (`@flow8/gateway`): what starts the service for tools
// that run the real gateway in-process (scripts/bench). Everything else stays internal.
export { createGateway, type Gateway } from './service';
export { gatewayConfigSchema, type GatewayConfig } from './config';
