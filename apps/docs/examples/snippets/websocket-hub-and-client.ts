import { createClient, createHub } from "@distsync/core";
import { createNodeFileSystem } from "@distsync/core/node";
import { createWebSocketClientTransport, createWebSocketHubTransport } from "@distsync/transport-ws";

const hubTransport = createWebSocketHubTransport({ host: "0.0.0.0", port: 7420 });
const hub = createHub({ transport: hubTransport, token: process.env.DISTSYNC_TOKEN });
await hub.start(); // hubTransport.url is known from here on

const client = createClient({
  transport: createWebSocketClientTransport({ url: "ws://hub.lan:7420" }),
  fs: await createNodeFileSystem("./shared"),
  token: process.env.DISTSYNC_TOKEN,
});
await client.start();
