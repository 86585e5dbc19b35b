// Runs a command to completion (rsync, cp) and times it, with a timeout that kills it rather than
// letting a stuck transfer hang the run.
import { spawn } from "node:child_process";
import { cleanup } from "./cleanup.mjs";

/** `{ ms, stdout }` of `command args`; rejects on a non-zero exit or after `timeoutMs`. */
export function runCommand(command, args, { timeoutMs = 120_000 } = {}) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = cleanup.trackChild(spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] }));
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (text) => {
      stdout += text;
    });
    child.stderr.setEncoding("utf8").on("data", (text) => {
      stderr = (stderr + text).slice(-2000);
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      const ms = performance.now() - started;
      if (code === 0) resolve({ ms, stdout });
      else if (signal === "SIGKILL") reject(new Error(`${command} timed out after ${timeoutMs / 1000} s`));
      else reject(new Error(`${command} exited ${code ?? signal}: ${stderr.trim().split("\n").pop()}`));
    });
  });
}
