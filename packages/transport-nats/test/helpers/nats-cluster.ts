import net from "node:net";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { type NatsServer, startNatsServer } from "./nats-server.js";

/** A private NATS cluster on 127.0.0.1: one {@link NatsServer} per node, all routed to each other. */
export interface NatsCluster {
  readonly nodes: readonly NatsServer[];
  /** The client URLs of every node, comma-separated (what `--nats` takes for a cluster). */
  readonly urls: string;
  /** Stops every node. */
  stop(): Promise<void>;
}

/**
 * Starts one nats-server per configuration text, as a cluster on loopback. The texts are used as
 * written, except that every port in `clusterPorts` (the `cluster.listen` ports and routes the
 * texts name, e.g. 6222-6224) is replaced by a free one, and the client port of each node is a
 * free one too (`-p -1` overrides `listen`). Resolves once every node delivers a message published
 * on every other node: the routes are up and interest has spread.
 */
export async function startNatsCluster(
  configs: readonly string[],
  clusterPorts: readonly number[],
): Promise<NatsCluster> {
  const free = await Promise.all(clusterPorts.map(() => freePort()));
  const portFor = new Map(clusterPorts.map((port, i) => [String(port), String(free[i])]));
  const pattern = new RegExp(`\\b(${clusterPorts.join("|")})\\b`, "g");
  const nodes: NatsServer[] = [];
  try {
    for (const config of configs) {
      nodes.push(await startNatsServer({ config: config.replace(pattern, (port) => portFor.get(port)!) }));
    }
    await waitForMesh(nodes);
  } catch (error) {
    await Promise.all(nodes.map((node) => node.stop()));
    throw error;
  }
  return {
    nodes,
    urls: nodes.map((node) => node.url).join(","),
    stop: async () => {
      await Promise.all(nodes.map((node) => node.stop()));
    },
  };
}

/** A TCP port nobody listens on right now (the OS's pick for port 0). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Publishes on each node, until a subscriber on each other node has seen it (10 s at most). */
async function waitForMesh(nodes: readonly NatsServer[]): Promise<void> {
  const connections: NatsConnection[] = [];
  try {
    for (const node of nodes) connections.push(await connect({ servers: node.url, name: "mesh-probe" }));
    const heard = new Set<string>();
    connections.forEach((nc, to) => {
      nc.subscribe(`mesh.${to}`, {
        callback: (_error, msg) => {
          heard.add(`${new TextDecoder().decode(msg.data)}->${to}`);
        },
      });
    });
    await Promise.all(connections.map((nc) => nc.flush()));
    const deadline = Date.now() + 10_000;
    const expected = nodes.length * (nodes.length - 1);
    while (heard.size < expected) {
      if (Date.now() > deadline) {
        throw new Error(`the NATS cluster did not form within 10 s (routes seen: ${[...heard].join(", ")})`);
      }
      connections.forEach((nc, from) => {
        connections.forEach((_, to) => {
          if (from !== to && !heard.has(`${from}->${to}`)) nc.publish(`mesh.${to}`, String(from));
        });
      });
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } finally {
    await Promise.all(connections.map((nc) => nc.close().catch(() => {})));
  }
}
