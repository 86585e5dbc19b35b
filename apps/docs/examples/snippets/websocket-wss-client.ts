import { readFileSync } from "node:fs";
import { createWebSocketClientTransport } from "@distsync/transport-ws";

// #region wss
createWebSocketClientTransport({ url: "wss://hub.lan:8443", ca: readFileSync("hub-ca.pem") });
// #endregion wss
