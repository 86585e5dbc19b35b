// A `distsync serve` hub on a free loopback port, ready for clients.
import { startCli } from "./cli-process.mjs";

/** `{ hub, url, port }` once the hub prints its `listening` event. */
export async function startHub() {
  const hub = startCli(["serve", "--host", "127.0.0.1", "--port", "0"], { label: "hub" });
  const { url } = await hub.next((e) => e.event === "listening", 10_000, "listening event");
  return { hub, url, port: Number(new URL(url).port) };
}
