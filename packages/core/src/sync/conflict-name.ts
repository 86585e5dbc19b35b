/**
 * The name under which `conflicts: "keep"` saves a losing version:
 * `name.conflict-<client>-<yyyymmdd-hhmmss>.ext` (UTC, from the losing version's mtime).
 */
export function conflictName(path: string, client: string, mtimeMs: number): string {
  const slash = path.lastIndexOf("/");
  const dir = path.slice(0, slash + 1);
  const base = path.slice(slash + 1);
  const dot = base.lastIndexOf(".");
  const stem = dot > 0 ? base.slice(0, dot) : base;
  const ext = dot > 0 ? base.slice(dot) : "";
  const d = new Date(mtimeMs);
  const pad = (n: number) => String(n).padStart(2, "0");
  const stamp = `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}-${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}`;
  const safeClient = client.replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 40) || "client";
  return `${dir}${stem}.conflict-${safeClient}-${stamp}${ext}`;
}
