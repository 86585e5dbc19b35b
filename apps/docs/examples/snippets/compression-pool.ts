import { createClient } from "@distsync/core";
import { createCompressionPool, createNodeFileSystem } from "@distsync/core/node";
import { createWebSocketClientTransport } from "@distsync/transport-ws";

const pool = createCompressionPool(); // one worker per core beyond the first
const client = createClient({
  transport: createWebSocketClientTransport({ url: "ws://hub.lan:7420" }),
  fs: await createNodeFileSystem("./shared"),
  encodeChunk: pool.encode, // large uploads are deflated in the workers
  chunkBlocks: pool.chunkBlocks, // large files are cut and hashed in the workers
});
await client.start();
// … later
await client.stop();
await pool.close();
