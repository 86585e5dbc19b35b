import { startEmbeddedSync } from "../embedded-sync.js";

const sync = await startEmbeddedSync(["./a", "./b"], (dir, change) =>
  console.log(`${dir}: ${change.op} ${change.path} (from ${change.origin})`),
);
console.log(`other machines can join at ${sync.url}`); // only from this machine: 127.0.0.1
// … later
await sync.stop();
