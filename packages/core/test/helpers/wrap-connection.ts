import type { Connection } from "../../src/transport.js";

/**
 * A connection that behaves like `connection` except for the members given: tests use it to spy
 * on, stall or drop frames. Identity and state read through to the real connection.
 */
export function wrapConnection(
  connection: Connection,
  overrides: Partial<Pick<Connection, "send" | "close" | "on">> & { closed?: () => boolean } = {},
): Connection {
  return {
    get id() {
      return connection.id;
    },
    get remoteAddress() {
      return connection.remoteAddress;
    },
    get maxFrameBytes() {
      return connection.maxFrameBytes;
    },
    get closed() {
      return overrides.closed ? overrides.closed() : connection.closed;
    },
    send: overrides.send ?? ((frame, options) => connection.send(frame, options)),
    close: overrides.close ?? ((reason, options) => connection.close(reason, options)),
    on: overrides.on ?? ((event, listener) => connection.on(event, listener)),
  };
}
