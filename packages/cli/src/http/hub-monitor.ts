import {
  type Connection,
  DEFAULT_SPACE,
  decodeMessage,
  type Hub,
  type HubTransport,
  type Message,
} from "@distsync/core";
import { countingHubTransport, type TrafficObserver } from "./counting-transport.js";

/** The JSON of `GET /status.json` (and of each `/events` message); `distsync status` reads it. */
export interface StatusSnapshot {
  /** Bumped when a field changes meaning or goes away. */
  version: 1;
  hub: {
    /** What clients pass as `--server`. */
    url: string;
    /** Epoch ms. */
    startedAt: number;
    /** Epoch ms, at the hub, when this snapshot was taken (to compute ages without clock skew). */
    now: number;
  };
  /** Open transport connections, joined or not. */
  connections: number;
  spaces: SpaceStatus[];
  /** Newest last; at most {@link RECENT_CHANGES}. */
  recentChanges: RecentChange[];
  /** Newest last; at most {@link RECENT_CONFLICTS}. */
  recentConflicts: RecentConflict[];
  /** Bytes per second on the hub's transport over the last minute, oldest first. */
  throughput: { intervalMs: number; received: number[]; sent: number[] };
}

export interface SpaceStatus {
  name: string;
  /** The space's last committed sequence number. */
  seq: number;
  /** Live files and their total size. */
  files: number;
  bytes: number;
  /** Changes committed and conflicts decided since the hub started. */
  changes: number;
  conflicts: number;
  /** Bytes on the transport since the hub started, frames included. */
  received: number;
  sent: number;
  clients: ClientStatus[];
}

export interface ClientStatus {
  clientId: string;
  name: string | null;
  address: string | null;
  /** Epoch ms. */
  connectedAt: number;
  /** Epoch ms of the last frame from the client (heartbeats included). */
  lastSeen: number;
  /** `joining` until the hub has sent everything the client lacked at join. */
  state: "joining" | "live";
  /**
   * Committed changes of the space this client has not applied yet, by its own report (it tells
   * the hub how far it has applied once it is idle); `null` while joining.
   */
  behind: number | null;
  /** The hub sequence number the client has applied everything up to. */
  applied: number;
  /** Bytes queued at the hub for this client, not yet taken by the transport. */
  queuedBytes: number;
  received: number;
  sent: number;
}

export interface RecentChange {
  time: number;
  space: string;
  path: string;
  op: "write" | "delete" | "mkdir";
  size: number;
  seq: number;
  origin: string;
}

export interface RecentConflict {
  time: number;
  space: string;
  path: string;
  winner: { origin: string; mtimeMs: number };
  loser: { origin: string; mtimeMs: number };
}

/** Counters of one space label (`""`: traffic of connections that have not joined a space). */
export interface SpaceCounters {
  received: number;
  sent: number;
  framesReceived: number;
  framesSent: number;
  /** Bytes raw-deflate saved on content crossing the transport, by direction. */
  compressionSavedIn: number;
  compressionSavedOut: number;
  /**
   * Bytes of accepted versions that were not uploaded because the hub already held the content:
   * whole files, or (delta uploads) the chunks of a file it held.
   */
  dedupeSaved: number;
  /** Bytes of content fetched by clients that did not travel because they held those chunks. */
  dedupeSavedOut: number;
  changes: number;
  conflicts: number;
  propagation: Histogram;
}

/** A Prometheus-style cumulative histogram. */
export interface Histogram {
  /** Upper bounds, in seconds, ascending; `+Inf` is implied. */
  readonly bounds: readonly number[];
  /** Per bound (not cumulative); the last slot counts observations above the largest bound. */
  readonly counts: number[];
  sum: number;
  count: number;
}

export const RECENT_CHANGES = 50;
export const RECENT_CONFLICTS = 20;
const THROUGHPUT_SECONDS = 60;
/** Proposal arrival times kept to measure propagation; the oldest go first. */
const MAX_PENDING_PROPOSALS = 20_000;
const PROPOSAL_MAX_AGE_MS = 10 * 60_000;
export const PROPAGATION_BOUNDS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
] as const;

interface Link {
  connection: Connection;
  /** From the client's hello; the space counts only once the hub welcomed the client. */
  clientId: string | undefined;
  helloSpace: string | undefined;
  space: string | undefined;
  synced: boolean;
  /** The highest sequence number handed to the transport for this client. */
  lastSeq: number;
  received: number;
  sent: number;
  /** Proposed without inline content, by hash → size: uploaded, or deduplicated when acknowledged. */
  withoutContent: Map<string, number>;
  /** Raw bytes of content frames per hash, in (uploads) and out (downloads), until content-end. */
  contentIn: Map<string, number>;
  contentOut: Map<string, number>;
}

/**
 * Watches a hub from the outside, to serve `/status.json`, `/events` and `/metrics` without changing
 * core: the hub's events give changes and conflicts, `hub.status()` the spaces and clients, and a
 * counting wrapper around its transport ({@link HubMonitor.instrument}) the bytes, which it also
 * decodes (with core's own codec) to see compression, deduplication and propagation times.
 */
export class HubMonitor implements TrafficObserver {
  readonly startedAt = Date.now();
  #hub: Hub | undefined;
  #url = "";
  readonly #links = new Map<Connection, Link>();
  readonly #counters = new Map<string, SpaceCounters>();
  readonly #changes: RecentChange[] = [];
  readonly #conflicts: RecentConflict[] = [];
  /** `${space}\n${clientId}\n${path}` → when the proposal arrived (ms, monotonic). */
  readonly #proposed = new Map<string, number>();
  /** Per second (epoch s): bytes received and sent; the last THROUGHPUT_SECONDS + 1. */
  readonly #throughput: { second: number; received: number; sent: number }[] = [];
  readonly #listeners = new Set<() => void>();

  /** The hub transport to give `createHub`: the same one, with every frame shown to this monitor. */
  instrument(transport: HubTransport): HubTransport {
    return countingHubTransport(transport, this);
  }

  /** Starts following `hub`'s events; `url` is what clients connect to (known once it listens). */
  attach(hub: Hub): void {
    this.#hub = hub;
    hub.on("change", (space, entry) => {
      this.#space(space).changes++;
      push(this.#changes, RECENT_CHANGES, {
        time: Date.now(),
        space,
        path: entry.path,
        op: entry.deleted ? "delete" : entry.kind === "directory" ? "mkdir" : "write",
        size: entry.size,
        seq: entry.seq,
        origin: entry.origin,
      });
      this.#notify();
    });
    hub.on("conflict", (conflict) => {
      this.#space(conflict.space).conflicts++;
      push(this.#conflicts, RECENT_CONFLICTS, {
        time: Date.now(),
        space: conflict.space,
        path: conflict.path,
        winner: { origin: conflict.winner.origin, mtimeMs: conflict.winner.mtimeMs },
        loser: { origin: conflict.loser.origin, mtimeMs: conflict.loser.mtimeMs },
      });
      this.#notify();
    });
    hub.on("client-joined", () => this.#notify());
    hub.on("client-left", () => this.#notify());
  }

  setUrl(url: string): void {
    this.#url = url;
  }

  /** Calls `listener` (at most once per event loop turn is up to the caller) after a change, conflict, join or leave. */
  onUpdate(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Every space label's counters (`""` included), for `/metrics`. */
  counters(): ReadonlyMap<string, SpaceCounters> {
    return this.#counters;
  }

  snapshot(): StatusSnapshot {
    const now = Date.now();
    const spaces = (this.#hub?.status().spaces ?? []).map((space): SpaceStatus => {
      const counters = this.#space(space.name);
      return {
        name: space.name,
        seq: space.seq,
        files: space.files,
        bytes: space.bytes,
        changes: counters.changes,
        conflicts: counters.conflicts,
        received: counters.received,
        sent: counters.sent,
        clients: space.clients.map((client): ClientStatus => {
          const link = this.#findLink(space.name, client.clientId, client.address);
          return {
            clientId: client.clientId,
            name: client.name ?? null,
            address: client.address ?? null,
            connectedAt: client.connectedAt,
            lastSeen: client.lastSeen,
            state: link?.synced === false ? "joining" : "live",
            behind: link?.synced === false ? null : Math.max(0, space.seq - client.applied),
            applied: client.applied,
            queuedBytes: client.queuedBytes,
            received: link?.received ?? 0,
            sent: link?.sent ?? 0,
          };
        }),
      };
    });
    return {
      version: 1,
      hub: { url: this.#url, startedAt: this.startedAt, now },
      connections: this.#links.size,
      spaces,
      recentChanges: [...this.#changes],
      recentConflicts: [...this.#conflicts],
      throughput: this.#throughputSeries(now),
    };
  }

  // TrafficObserver

  opened(connection: Connection): void {
    this.#links.set(connection, {
      connection,
      clientId: undefined,
      helloSpace: undefined,
      space: undefined,
      synced: false,
      lastSeq: 0,
      received: 0,
      sent: 0,
      withoutContent: new Map(),
      contentIn: new Map(),
      contentOut: new Map(),
    });
  }

  closed(connection: Connection): void {
    this.#links.delete(connection);
  }

  received(connection: Connection, frame: Uint8Array): void {
    const link = this.#links.get(connection);
    if (link === undefined) return;
    link.received += frame.byteLength;
    const counters = this.#space(link.space ?? "");
    counters.received += frame.byteLength;
    counters.framesReceived++;
    this.#bucket().received += frame.byteLength;
    const message = decode(frame);
    if (message === undefined) return;
    switch (message.type) {
      case "hello":
        link.clientId = message.clientId;
        link.helloSpace = message.space || DEFAULT_SPACE;
        return;
      case "index":
      case "propose": {
        if (link.space === undefined) return;
        const now = performance.now();
        for (const item of message.items) {
          this.#remember(`${link.space}\n${link.clientId}\n${item.path}`, now);
          const { entry, data } = item;
          if (data !== undefined) counters.compressionSavedIn += saved(data.encoding, entry.size, data.data);
          else if (entry.kind === "file" && !entry.deleted && entry.size > 0) {
            link.withoutContent.set(entry.hash, entry.size);
          }
        }
        return;
      }
      case "content":
        counters.compressionSavedIn += saved(message.encoding, message.size, message.data);
        link.contentIn.set(message.hash, (link.contentIn.get(message.hash) ?? 0) + message.size);
        return;
      case "content-end": {
        // A delta upload sent only the chunks the hub lacked: the rest counts once acknowledged.
        const moved = link.contentIn.get(message.hash) ?? 0;
        link.contentIn.delete(message.hash);
        if (message.size > moved) link.withoutContent.set(message.hash, message.size - moved);
        return;
      }
      case "content-abort":
        link.contentIn.delete(message.hash);
        return;
    }
  }

  sent(connection: Connection, frame: Uint8Array): void {
    const link = this.#links.get(connection);
    if (link === undefined) return;
    link.sent += frame.byteLength;
    const counters = this.#space(link.space ?? "");
    counters.sent += frame.byteLength;
    counters.framesSent++;
    this.#bucket().sent += frame.byteLength;
    const message = decode(frame);
    if (message === undefined) return;
    switch (message.type) {
      case "welcome":
        link.space = link.helloSpace;
        return;
      case "synced":
        link.synced = true;
        link.lastSeq = Math.max(link.lastSeq, message.seq);
        return;
      case "upload":
        link.withoutContent.delete(message.hash);
        return;
      case "ack":
        for (const item of message.items) {
          link.lastSeq = Math.max(link.lastSeq, item.seq);
          const size = link.withoutContent.get(item.hash);
          if (size !== undefined) {
            counters.dedupeSaved += size;
            link.withoutContent.delete(item.hash);
          }
        }
        return;
      case "entries": {
        const now = performance.now();
        for (const item of message.items) {
          link.lastSeq = Math.max(link.lastSeq, item.seq);
          if (item.data !== undefined) {
            counters.compressionSavedOut += saved(item.data.encoding, item.entry.size, item.data.data);
          }
          if (item.cause !== "change" && item.cause !== "overruled") continue;
          const since = this.#proposed.get(`${link.space}\n${item.origin}\n${item.path}`);
          if (since !== undefined && now - since < PROPOSAL_MAX_AGE_MS) {
            observe(counters.propagation, (now - since) / 1000);
          }
        }
        return;
      }
      case "content":
        counters.compressionSavedOut += saved(message.encoding, message.size, message.data);
        link.contentOut.set(message.hash, (link.contentOut.get(message.hash) ?? 0) + message.size);
        return;
      case "content-end": {
        // A fetch of some chunks only (the client held the others).
        const moved = link.contentOut.get(message.hash) ?? 0;
        link.contentOut.delete(message.hash);
        if (message.size > moved) counters.dedupeSavedOut += message.size - moved;
        return;
      }
      case "content-abort":
        link.contentOut.delete(message.hash);
        return;
    }
  }

  #findLink(space: string, clientId: string, address: string | undefined): Link | undefined {
    let found: Link | undefined;
    for (const link of this.#links.values()) {
      if (link.space !== space || link.clientId !== clientId) continue;
      // A client that reconnected may briefly have two connections: prefer the same address.
      if (found === undefined || link.connection.remoteAddress === address) found = link;
    }
    return found;
  }

  #remember(key: string, now: number): void {
    this.#proposed.delete(key); // re-inserted last, so the map stays in arrival order
    this.#proposed.set(key, now);
    while (this.#proposed.size > MAX_PENDING_PROPOSALS) {
      const oldest = this.#proposed.keys().next().value;
      if (oldest === undefined) break;
      this.#proposed.delete(oldest);
    }
  }

  #space(name: string): SpaceCounters {
    let counters = this.#counters.get(name);
    if (counters === undefined) {
      counters = {
        received: 0,
        sent: 0,
        framesReceived: 0,
        framesSent: 0,
        compressionSavedIn: 0,
        compressionSavedOut: 0,
        dedupeSaved: 0,
        dedupeSavedOut: 0,
        changes: 0,
        conflicts: 0,
        propagation: {
          bounds: PROPAGATION_BOUNDS,
          counts: new Array(PROPAGATION_BOUNDS.length + 1).fill(0),
          sum: 0,
          count: 0,
        },
      };
      this.#counters.set(name, counters);
    }
    return counters;
  }

  #bucket(): { second: number; received: number; sent: number } {
    const second = Math.floor(Date.now() / 1000);
    const last = this.#throughput[this.#throughput.length - 1];
    if (last !== undefined && last.second === second) return last;
    const bucket = { second, received: 0, sent: 0 };
    this.#throughput.push(bucket);
    if (this.#throughput.length > THROUGHPUT_SECONDS + 1) this.#throughput.shift();
    return bucket;
  }

  #throughputSeries(now: number): StatusSnapshot["throughput"] {
    const current = Math.floor(now / 1000);
    const received: number[] = [];
    const sent: number[] = [];
    const bySecond = new Map(this.#throughput.map((b) => [b.second, b]));
    // The current second is still filling up: the series ends with the last whole one.
    for (let s = current - THROUGHPUT_SECONDS; s < current; s++) {
      const bucket = bySecond.get(s);
      received.push(bucket?.received ?? 0);
      sent.push(bucket?.sent ?? 0);
    }
    return { intervalMs: 1000, received, sent };
  }

  #notify(): void {
    for (const listener of [...this.#listeners]) listener();
  }
}

function decode(frame: Uint8Array): Message | undefined {
  try {
    return decodeMessage(frame);
  } catch {
    return undefined; // the hub itself answers a malformed frame
  }
}

/** Bytes deflate saved on one piece of content (`size` raw bytes sent as `data`). */
function saved(encoding: string, size: number, data: Uint8Array): number {
  return encoding === "deflate" ? Math.max(0, size - data.byteLength) : 0;
}

function observe(histogram: Histogram, seconds: number): void {
  let i = histogram.bounds.findIndex((bound) => seconds <= bound);
  if (i === -1) i = histogram.bounds.length;
  histogram.counts[i] = (histogram.counts[i] ?? 0) + 1;
  histogram.sum += seconds;
  histogram.count++;
}

function push<T>(list: T[], max: number, item: T): void {
  list.push(item);
  if (list.length > max) list.splice(0, list.length - max);
}
