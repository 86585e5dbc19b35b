import http from "node:http";
import { createWebSocketHubTransport } from "@distsync/transport-ws";

const app: http.RequestListener = (_request, response) => response.end("your app"); // your routes
// #region attach
const server = http.createServer(app); // your routes keep working
server.listen(8080);
const hubTransport = createWebSocketHubTransport({ server, path: "/sync" });

// #endregion attach
export { hubTransport };
