// A TCP relay on loopback that counts the bytes in each direction. Pointing a client's --server (or
// rsync's daemon URL) at it measures what really crossed the socket, from outside the processes:
// framing, headers, heartbeats, compression and all. It costs some CPU in this process, the same
// for DistSync and rsync when both go through one.
import { createConnection, createServer } from "node:net";

/** Relays 127.0.0.1:<port> to 127.0.0.1:`targetPort`. `bytes.up` is client→target, `bytes.down` the reverse. */
export async function startTcpCounter(targetPort) {
  const bytes = { up: 0, down: 0 };
  const sockets = new Set();
  const server = createServer((client) => {
    const target = createConnection({ host: "127.0.0.1", port: targetPort });
    for (const socket of [client, target]) {
      socket.setNoDelay(true);
      sockets.add(socket);
      socket.once("close", () => sockets.delete(socket));
      // A reset on one side ends the other; the error itself is not the benchmark's concern.
      socket.on("error", () => {
        client.destroy();
        target.destroy();
      });
    }
    client.on("data", (chunk) => {
      bytes.up += chunk.length;
    });
    target.on("data", (chunk) => {
      bytes.down += chunk.length;
    });
    client.pipe(target);
    target.pipe(client);
  });
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  return {
    port: server.address().port,
    bytes,
    /** A copy of the counts now, to subtract later. */
    snapshot: () => ({ ...bytes }),
    /** The bytes since `snapshot`. */
    since: (before) => ({ up: bytes.up - before.up, down: bytes.down - before.down }),
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
