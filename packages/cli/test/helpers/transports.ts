import { afterEach, beforeEach } from "vitest";
import {
  type NatsServer,
  requireNatsServer,
  startNatsServer,
} from "../../../transport-nats/test/helpers/nats-server.js";
import { type CliProcess, killAll, spawnCli, startHub } from "./cli.js";

/** A running `distsync serve`. */
export interface StartedHub {
  hub: CliProcess;
  /** What clients pass as `--server`. */
  url: string;
}

/**
 * One way of running the hub, so that an end-to-end scenario runs over every transport:
 * `describe.each(TRANSPORTS)("… over $name", (transport) => { transport.useHooks(); … })`.
 */
export interface TransportFixture {
  readonly name: string;
  /** Registers what the transport needs around each test (NATS: a private nats-server). */
  useHooks(): void;
  /** `distsync serve` on this transport (plus `args`), resolved once it listens. */
  startHub(args?: readonly string[]): Promise<StartedHub>;
  /** Another `distsync serve` where `previous` was (same port, or same NATS server), once it listens. */
  restartHub(previous: StartedHub, args?: readonly string[]): Promise<StartedHub>;
  /**
   * `serve` arguments that make clients notice a killed hub process quickly. On WebSocket its socket
   * closes, so none are needed; on NATS nothing closes between client and hub, and only the
   * heartbeat timeout notices (5 s by default), so it is shortened.
   */
  readonly fastLossArgs: readonly string[];
}

async function waitListening(hub: CliProcess): Promise<StartedHub> {
  const listening = await hub.waitForEvent((e) => e.event === "listening", 10_000, "the hub to listen");
  return { hub, url: String(listening.url) };
}

export const webSocket: TransportFixture = {
  name: "WebSocket",
  useHooks() {},
  async startHub(args = []) {
    const { hub, url } = await startHub(args);
    return { hub, url };
  },
  async restartHub(previous, args = []) {
    return waitListening(spawnCli(["serve", "--port", new URL(previous.url).port, ...args]));
  },
  fastLossArgs: [],
};

/** The nats-server of the running test. */
let natsServer: NatsServer | undefined;

/** The current test's nats-server (only inside a test of a `nats` fixture's describe). */
export function currentNatsServer(): NatsServer {
  if (natsServer === undefined) throw new Error("no nats-server: call nats.useHooks() in the describe");
  return natsServer;
}

export const nats: TransportFixture = {
  name: "NATS",
  useHooks() {
    // A server per test: a killed hub or server in one test cannot affect the next.
    beforeEach(async () => {
      natsServer = await startNatsServer();
    });
    afterEach(async () => {
      await killAll(); // the CLI processes first, so none of them sees the server go
      await natsServer?.stop();
      natsServer = undefined;
    });
  },
  startHub(args = []) {
    return waitListening(spawnCli(["serve", "--nats", currentNatsServer().url, ...args]));
  },
  restartHub(previous, args = []) {
    return waitListening(spawnCli(["serve", "--nats", previous.url, ...args]));
  },
  fastLossArgs: ["--heartbeat-ms", "200", "--timeout-ms", "1500"],
};

/**
 * Every transport the scenarios run over. Without nats-server the NATS ones are skipped with one
 * line, except in CI, where a missing nats-server fails the file.
 */
export const TRANSPORTS: readonly TransportFixture[] = requireNatsServer() ? [webSocket, nats] : [webSocket];
