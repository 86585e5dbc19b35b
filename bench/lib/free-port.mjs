// A TCP port that was free a moment ago, for servers that cannot be told to pick one themselves
// (rsync --daemon has no "port 0" that reports back).
import { createServer } from "node:net";

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}
