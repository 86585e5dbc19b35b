// The `applied` event of one write (or delete) of `path` on a receiving client, after `since`.
// The size check makes sure it is the version we wrote, not an earlier one still in flight.
export function waitForApplied(client, { path, since, size, op = "write", timeoutMs, dir }) {
  return client.next(
    (e) =>
      e.event === "applied" &&
      e.path === path &&
      e.op === op &&
      e.at >= since &&
      (size === undefined || e.size === size) &&
      (dir === undefined || e.dir === dir),
    timeoutMs,
    `applied event for ${path}`,
  );
}
