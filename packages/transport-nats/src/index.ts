// Values first, then types (the public API of @distsync/transport-nats).

export type { NatsClientTransport, NatsClientTransportOptions } from "./nats-client-transport.js";
export { createNatsClientTransport } from "./nats-client-transport.js";
export type { NatsTransportConnection } from "./nats-connection.js";
export type { NatsHubTransport, NatsHubTransportOptions } from "./nats-hub-transport.js";
export { createNatsHubTransport } from "./nats-hub-transport.js";
export type { NatsTransportOptions } from "./nats-link.js";
export { DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_HIGH_WATER_MARK, redactUrl } from "./nats-link.js";
export { DEFAULT_SUBJECT_PREFIX } from "./wire.js";
