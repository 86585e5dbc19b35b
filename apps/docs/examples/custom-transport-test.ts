// test/memory.conformance.test.ts: the shared suites, run here against core's own in-memory
// transport and file system. Swap in your adapter's factories to test it the same way.
// (apps/docs/test/examples.test.ts imports this file, so the suites really run.)
import { createMemoryNetwork, MemoryFileSystem } from "@distsync/core";
import { runFileSystemConformance, runTransportConformance } from "@distsync/core/testing";

// Called before every test: return a hub transport that is not listening yet (the suite calls
// listen()), and a factory for client transports that reach it.
runTransportConformance("memory network", async () => {
  const network = createMemoryNetwork();
  return {
    hub: network.hubTransport(),
    client: () => network.clientTransport(),
    // Runs after the suite has closed every connection and transport it opened.
    teardown: async () => {},
  };
});

// Called before every test: return a fresh, empty file system (and how to clean it up).
runFileSystemConformance("memory file system", async () => ({
  fs: new MemoryFileSystem(),
  teardown: async () => {},
}));
