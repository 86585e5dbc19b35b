// The terminal tables, one per scenario, each figure next to its target. An unmet target reads
// "not met"; a scenario (or one tool in it) that failed reads "failed: <why>".
import { format } from "./format.mjs";
import { printTable } from "./print-table.mjs";
import { TARGETS } from "./targets.mjs";

const printers = { S1: printS1, S2: printS2, S3: printS3, S4: printS4, S5: printS5, S6: printS6 };

export function printScenario(id, result) {
  if (result.failed && id !== "S6") {
    console.log(`\n${id} ${result.description ?? ""}\n  failed: ${result.failed}`);
    return;
  }
  printers[id](result);
}

function printS1(r) {
  const t = TARGETS.S1;
  printTable(
    "S1 propagation of a 1 KiB file to two other clients (ms, loopback WebSocket, real CLI processes)",
    ["op", "samples", "p50", "p95", "max", `p50 ≤ ${t.p50Ms}`, `p95 ≤ ${t.p95Ms}`],
    ["create", "modify", "delete"].map((op) => [
      op,
      r[op].samples,
      r[op].p50,
      r[op].p95,
      r[op].max,
      format.verdict(r[op].p50 <= t.p50Ms),
      format.verdict(r[op].p95 <= t.p95Ms),
    ]),
  );
}

function printS2(r) {
  const d = r.distsync;
  const versusRsync =
    r.ratioToRsync === undefined
      ? "no rsync figure"
      : `${format.ratio(r.ratioToRsync)} rsync: ${format.verdict(r.meetsTarget)}`;
  const rows = [
    [
      "distsync: seeding client indexes and uploads",
      d.indexUploadSeconds === undefined
        ? `failed: ${d.failed}`
        : format.seconds(d.indexUploadSeconds * 1000),
      "",
    ],
    [
      "distsync: empty client until ready, all files",
      d.initialSyncSeconds !== undefined
        ? format.seconds(d.initialSyncSeconds * 1000)
        : d.indexUploadSeconds === undefined
          ? "–"
          : `failed: ${d.failed}`,
      versusRsync,
    ],
  ];
  if (r.rsync) rows.push(["rsync -a to an rsync daemon", seconds(r.rsync), ""]);
  if (r.cp) rows.push(["cp -a (local floor)", seconds(r.cp), ""]);
  printTable(
    `S2 ${r.description} (${format.bytes(r.totalBytes)})`,
    ["", "time", `target ≤ ${TARGETS.S2.maxRatioToRsync}× rsync`],
    rows,
  );
}

function printS3(r) {
  const rows = [];
  for (const item of r.items) {
    const d = item.distsync;
    rows.push([
      `${item.name}: distsync`,
      d.failed ? `failed: ${d.failed}` : format.seconds(d.seconds * 1000),
      d.failed ? "" : `${d.mibPerSecond} MiB/s`,
      d.failed ? "" : `${format.bytes(d.writerUpBytes)} / ${format.bytes(d.readerDownBytes)}`,
      item.ratioToRsync !== undefined
        ? `${format.ratio(item.ratioToRsync)} rsync: ${format.verdict(item.meetsTarget)}`
        : "no rsync figure",
    ]);
    if (item.rsync) {
      rows.push([
        `${item.name}: rsync`,
        seconds(item.rsync),
        item.rsync.failed ? "" : `${item.rsync.mibPerSecond} MiB/s`,
        item.rsync.failed ? "" : format.bytes(item.rsync.wireBytes),
        "",
      ]);
    }
  }
  printTable(
    "S3 large files, writer → hub → reader (time until the reader has it, SHA-256 checked)",
    ["", "time", "throughput", "wire: writer up / reader down", "target ≥ rsync throughput"],
    rows,
    ["wire bytes counted by a TCP relay between each client and the hub (rsync: its whole connection)"],
  );
}

function printS4(r) {
  const rows = [];
  for (const item of r.items) {
    const d = item.distsync;
    rows.push([
      `${item.name}: distsync`,
      format.bytes(item.changedBytes),
      d.failed
        ? `failed: ${d.failed}`
        : `${format.bytes(d.writerUpBytes)} / ${format.bytes(d.readerDownBytes)}`,
      d.failed ? "" : format.seconds(d.seconds * 1000),
      `≤ ${format.bytes(item.targetBytes)}: ${format.verdict(item.meetsBytes)}`,
      item.ratioToRsyncTime !== undefined
        ? `${format.ratio(item.ratioToRsyncTime)}: ${format.verdict(item.meetsTime)}`
        : "–",
    ]);
    if (item.rsync) {
      const s = item.rsync;
      rows.push([
        `${item.name}: rsync`,
        format.bytes(item.changedBytes),
        s.failed
          ? `failed: ${s.failed}`
          : `${format.bytes(s.sentBytes)} sent (wire ${format.bytes(s.wireUpBytes + s.wireDownBytes)})`,
        s.failed ? "" : format.seconds(s.seconds * 1000),
        "",
        "",
      ]);
    }
  }
  printTable(
    "S4 small edits of the S3 file: bytes on the socket versus bytes changed",
    ["", "changed", "wire: writer up / reader down", "time", "wire target (larger leg)", "time ≤ rsync"],
    rows,
  );
}

function printS5(r) {
  printTable(
    `S5 fanout: ${r.description}`,
    ["", "samples", "p50", "p95", "max", `p95 ≤ ${TARGETS.S5.p95Ms} ms`],
    [
      [
        "every receiver, every sample (ms)",
        r.perClient.samples,
        r.perClient.p50,
        r.perClient.p95,
        r.perClient.max,
        format.verdict(r.meetsP95),
      ],
      [
        "slowest receiver per sample (ms)",
        r.slowestClient.samples,
        r.slowestClient.p50,
        r.slowestClient.p95,
        r.slowestClient.max,
        "",
      ],
    ],
  );
}

function printS6(r) {
  if (r.failed) {
    console.log(`\nS6 ${r.description}\n  failed: ${r.failed}`);
    return;
  }
  printTable(
    "S6 CPU and peak memory per process (read from /proc just before the process stops)",
    [
      "scenario",
      "process",
      "after",
      "CPU s (user+sys)",
      "peak RSS",
      `peak RSS ≤ ${TARGETS.S6.peakRssMiB} MiB`,
    ],
    r.processes.map((p) => [
      p.scenario,
      p.process,
      p.after ?? "end",
      p.cpuSeconds,
      p.peakRssMiB === undefined ? "–" : `${p.peakRssMiB} MiB`,
      format.verdict(p.meetsRss),
    ]),
  );
}

function seconds(result) {
  return result.failed ? `failed: ${result.failed}` : format.seconds(result.seconds * 1000);
}
