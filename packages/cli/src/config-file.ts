import { readFile } from "node:fs/promises";
import * as nodePath from "node:path";
import { UsageError } from "./cli-error.js";

/** The file looked for in the working directory when `--config` is not given. */
export const CONFIG_FILE_NAME = "distsync.config.json";

export interface ConfigFile {
  /** The path as shown in messages (as given, or the default name). */
  label: string;
  values: Record<string, unknown>;
}

/**
 * Reads the configuration: `explicit` (from `--config`, must exist) or `distsync.config.json` in
 * `cwd` (optional). Returns `undefined` when there is none. A file that cannot be read, is not JSON
 * or is not a JSON object is a {@link UsageError}.
 */
export async function readConfigFile(
  explicit: string | undefined,
  cwd: string,
): Promise<ConfigFile | undefined> {
  const label = explicit ?? CONFIG_FILE_NAME;
  const absolute = nodePath.resolve(cwd, label);
  let text: string;
  try {
    text = await readFile(absolute, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" && explicit === undefined) return undefined;
    if (code === "ENOENT") throw new UsageError(`config file not found: ${label}`);
    throw new UsageError(`cannot read the config file ${label}: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${label} is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new UsageError(`${label} must hold a JSON object (keys like "server", "space", "token")`);
  }
  return { label, values: parsed as Record<string, unknown> };
}
