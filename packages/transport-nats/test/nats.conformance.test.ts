import { runTransportConformance } from "@distsync/core/testing";
import { afterAll, beforeAll, describe } from "vitest";
import { createNatsClientTransport, createNatsHubTransport } from "../src/index.js";
import { type NatsServer, requireNatsServer, startNatsServer } from "./helpers/nats-server.js";

const hasNats = requireNatsServer();

for (const jetstream of [false, true]) {
  const name = `nats-server on 127.0.0.1, JetStream ${jetstream ? "on" : "off"}`;
  describe.skipIf(!hasNats)(name, () => {
    let server: NatsServer;
    let tests = 0;

    beforeAll(async () => {
      server = await startNatsServer({ jetstream });
    });
    afterAll(async () => {
      await server?.stop();
    });

    // A prefix per test: nothing one test leaves behind can reach the next.
    runTransportConformance(name, async () => {
      const subjectPrefix = `conformance${++tests}`;
      const hub = createNatsHubTransport({ url: server.url, subjectPrefix });
      return { hub, client: () => createNatsClientTransport({ url: server.url, subjectPrefix }) };
    });
  });
}
