// Values first, then types (the public API of @distsync/transport-ws).

export type {
  WebSocketClientTransport,
  WebSocketClientTransportOptions,
} from "./websocket-client-transport.js";
export { createWebSocketClientTransport } from "./websocket-client-transport.js";
export type { WebSocketConnection } from "./websocket-connection.js";
export type { WebSocketHubTransport, WebSocketHubTransportOptions } from "./websocket-hub-transport.js";
export { createWebSocketHubTransport, DEFAULT_HUB_PORT } from "./websocket-hub-transport.js";
