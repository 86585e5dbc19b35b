import type { HubMonitor, SpaceCounters } from "./hub-monitor.js";

/** The `Content-Type` of the Prometheus text exposition format. */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

interface Family {
  name: string;
  type: "counter" | "gauge" | "histogram";
  help: string;
}

/**
 * `GET /metrics` in the Prometheus text exposition format (0.0.4), written by hand: a dozen
 * families do not need a client library. Every per-space family has a `space` label; `space=""`
 * holds the traffic of connections that have not joined a space (yet), so a client with a wrong
 * token cannot create label values.
 */
export function renderMetrics(monitor: HubMonitor): string {
  const lines: string[] = [];
  // First: the snapshot also creates the counters of every space the hub holds.
  const snapshot = monitor.snapshot();
  const counters = [...monitor.counters()].sort(([a], [b]) => a.localeCompare(b));
  const family = (f: Family, samples: () => void): void => {
    lines.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`);
    samples();
  };
  const perSpace = (f: Family, value: (c: SpaceCounters) => number, extra = ""): void => {
    for (const [space, c] of counters) lines.push(`${f.name}{space="${label(space)}"${extra}} ${value(c)}`);
  };
  const simple = (f: Family, value: (c: SpaceCounters) => number): void =>
    family(f, () => perSpace(f, value));

  family(
    {
      name: "distsync_connected_clients",
      type: "gauge",
      help: "Clients joined to the space and connected now.",
    },
    () => {
      for (const s of snapshot.spaces) {
        lines.push(`distsync_connected_clients{space="${label(s.name)}"} ${s.clients.length}`);
      }
    },
  );
  family(
    {
      name: "distsync_client_queue_bytes",
      type: "gauge",
      help: "Bytes queued at the hub for each connected client and not yet taken by the transport.",
    },
    () => {
      for (const s of snapshot.spaces)
        for (const c of s.clients)
          lines.push(
            `distsync_client_queue_bytes{space="${label(s.name)}",client="${label(c.name ?? c.clientId)}"} ${c.queuedBytes}`,
          );
    },
  );
  family(
    {
      name: "distsync_client_behind",
      type: "gauge",
      help: "Committed changes of the space each connected client has not applied yet (its own report).",
    },
    () => {
      for (const s of snapshot.spaces)
        for (const c of s.clients)
          lines.push(
            `distsync_client_behind{space="${label(s.name)}",client="${label(c.name ?? c.clientId)}"} ${c.behind ?? s.seq}`,
          );
    },
  );
  family(
    {
      name: "distsync_connections",
      type: "gauge",
      help: "Open transport connections, joined to a space or not.",
    },
    () => lines.push(`distsync_connections ${snapshot.connections}`),
  );
  family({ name: "distsync_files", type: "gauge", help: "Live files in the space at the hub." }, () => {
    for (const s of snapshot.spaces) lines.push(`distsync_files{space="${label(s.name)}"} ${s.files}`);
  });
  family(
    { name: "distsync_file_bytes", type: "gauge", help: "Total size of the live files in the space." },
    () => {
      for (const s of snapshot.spaces) lines.push(`distsync_file_bytes{space="${label(s.name)}"} ${s.bytes}`);
    },
  );
  simple(
    {
      name: "distsync_changes_committed_total",
      type: "counter",
      help: "Versions committed by the hub (writes, deletions, directories) since it started.",
    },
    (c) => c.changes,
  );
  simple(
    {
      name: "distsync_conflicts_total",
      type: "counter",
      help: "Concurrent versions of a path decided by last-writer-wins since the hub started.",
    },
    (c) => c.conflicts,
  );
  simple(
    {
      name: "distsync_received_bytes_total",
      type: "counter",
      help: "Bytes of frames the hub received from clients (messages and content, as on the transport).",
    },
    (c) => c.received,
  );
  simple(
    {
      name: "distsync_sent_bytes_total",
      type: "counter",
      help: "Bytes of frames the hub handed to the transport for clients.",
    },
    (c) => c.sent,
  );
  simple(
    { name: "distsync_received_frames_total", type: "counter", help: "Frames the hub received." },
    (c) => c.framesReceived,
  );
  simple(
    { name: "distsync_sent_frames_total", type: "counter", help: "Frames the hub sent." },
    (c) => c.framesSent,
  );
  const compression: Family = {
    name: "distsync_compression_saved_bytes_total",
    type: "counter",
    help: "Bytes of file content that raw-deflate compression kept off the transport (raw size minus sent size), by direction (in: uploads to the hub, out: deliveries from it).",
  };
  family(compression, () => {
    perSpace(compression, (c) => c.compressionSavedIn, ',direction="in"');
    perSpace(compression, (c) => c.compressionSavedOut, ',direction="out"');
  });
  simple(
    {
      name: "distsync_dedupe_saved_bytes_total",
      type: "counter",
      help: "Bytes of accepted file versions that were not uploaded because the hub already held the same content (whole files, or the chunks of a delta upload it held).",
    },
    (c) => c.dedupeSaved,
  );
  simple(
    {
      name: "distsync_download_dedupe_saved_bytes_total",
      type: "counter",
      help: "Bytes of content clients fetched that the hub did not send because the client held those chunks locally (delta downloads).",
    },
    (c) => c.dedupeSavedOut,
  );
  const latency: Family = {
    name: "distsync_propagation_seconds",
    type: "histogram",
    help: "Per recipient: seconds from the hub receiving a client's proposal of a version to the frame relaying it to another client of the space being taken by the transport (send resolved, so a slow client's backpressure counts). Includes uploading content the hub lacked; not the recipient writing it to disk.",
  };
  family(latency, () => {
    for (const [space, c] of counters) {
      const h = c.propagation;
      let cumulative = 0;
      h.bounds.forEach((bound, i) => {
        cumulative += h.counts[i] ?? 0;
        lines.push(`${latency.name}_bucket{space="${label(space)}",le="${bound}"} ${cumulative}`);
      });
      lines.push(`${latency.name}_bucket{space="${label(space)}",le="+Inf"} ${h.count}`);
      lines.push(`${latency.name}_sum{space="${label(space)}"} ${h.sum}`);
      lines.push(`${latency.name}_count{space="${label(space)}"} ${h.count}`);
    }
  });
  family(
    {
      name: "distsync_hub_start_time_seconds",
      type: "gauge",
      help: "When the hub started, in seconds since the Unix epoch.",
    },
    () => lines.push(`distsync_hub_start_time_seconds ${monitor.startedAt / 1000}`),
  );
  return `${lines.join("\n")}\n`;
}

/** A label value: backslash, double quote and line feed escaped, as the format requires. */
function label(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => (c === "\n" ? "\\n" : `\\${c}`));
}
