import { decodeMessage } from "../../src/protocol/codec.js";
import type { Message } from "../../src/protocol/messages.js";
import type { ClientTransport, Connection } from "../../src/transport.js";
import { wrapConnection } from "./wrap-connection.js";

/** Records every message a client sends and receives, decoded, for assertions about traffic. */
export class SpyTransport implements ClientTransport {
  readonly sent: Message[] = [];
  readonly received: Message[] = [];
  bytesSent = 0;
  bytesReceived = 0;
  readonly #inner: ClientTransport;

  constructor(inner: ClientTransport) {
    this.#inner = inner;
  }

  get capabilities() {
    return this.#inner.capabilities;
  }

  async connect(options?: { signal?: AbortSignal }): Promise<Connection> {
    const connection = await this.#inner.connect(options);
    connection.on("message", (frame) => {
      this.bytesReceived += frame.length;
      this.received.push(decodeMessage(frame));
    });
    return wrapConnection(connection, {
      send: (frame, opts) => {
        this.bytesSent += frame.length;
        this.sent.push(decodeMessage(frame));
        return connection.send(frame, opts);
      },
    });
  }

  count(direction: "sent" | "received", type: Message["type"]): number {
    return this[direction].filter((m) => m.type === type).length;
  }

  /** Items of `entries` messages received for `path`. */
  deliveries(path: string) {
    return this.received.flatMap((m) => (m.type === "entries" ? m.items.filter((i) => i.path === path) : []));
  }

  reset(): void {
    this.sent.length = 0;
    this.received.length = 0;
    this.bytesSent = 0;
    this.bytesReceived = 0;
  }
}
