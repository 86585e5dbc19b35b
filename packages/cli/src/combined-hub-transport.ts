import type { HubTransport, HubTransportEvents, TransportCapabilities, Unsubscribe } from "@distsync/core";

/**
 * One hub transport made of several: a hub accepts clients on all of them (the embedded hub of
 * `distsync sync` takes its own directories in memory and other machines on WebSocket). The frame
 * limit is the smallest of the parts, so every connection can carry what the hub sends.
 */
export function combineHubTransports(parts: readonly HubTransport[]): HubTransport {
  const first = parts[0];
  if (first === undefined) throw new RangeError("combineHubTransports needs at least one transport");
  if (parts.length === 1) return first;
  const capabilities: TransportCapabilities = {
    maxFrameBytes: Math.min(...parts.map((p) => p.capabilities.maxFrameBytes)),
  };
  let closing: Promise<void> | undefined;
  return {
    capabilities,
    async listen(options) {
      try {
        for (const part of parts) await part.listen(options);
      } catch (error) {
        await Promise.allSettled(parts.map((p) => p.close()));
        throw error;
      }
    },
    close() {
      closing ??= Promise.all(parts.map((p) => p.close())).then(() => {});
      return closing;
    },
    on<E extends keyof HubTransportEvents>(event: E, listener: HubTransportEvents[E]): Unsubscribe {
      const offs = parts.map((p) => p.on(event, listener));
      return () => {
        for (const off of offs) off();
      };
    },
  };
}
