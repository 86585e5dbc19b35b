import type { Server as HttpServer } from "node:http";
import type { Server as HttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { CliError } from "../cli-error.js";
import { ExitCode } from "../exit-codes.js";

/**
 * Starts `server` on `host`:`port` and resolves with the address it got (the real port for 0). It
 * fails the way the WebSocket transport's own listener did before `serve` shared its port with the
 * HTTP routes (`cannot listen on 127.0.0.1:7420: address already in use (EADDRINUSE)`), exit code 1.
 */
export async function listenHttp(
  server: HttpServer | HttpsServer,
  host: string,
  port: number,
): Promise<AddressInfo> {
  const where = host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      server.off("listening", onListening);
      reject(new CliError(ExitCode.error, `cannot listen on ${where}: ${describe(error)}`, { cause: error }));
    };
    const onListening = (): void => {
      server.off("error", onError);
      resolve();
    };
    server.once("error", onError);
    server.once("listening", onListening);
    server.listen({ host, port });
  });
  return server.address() as AddressInfo;
}

function describe(error: NodeJS.ErrnoException): string {
  switch (error.code) {
    case "EADDRINUSE":
      return "address already in use (EADDRINUSE)";
    case "EACCES":
      return "permission denied (EACCES)";
    case "EADDRNOTAVAIL":
      return "address not available on this machine (EADDRNOTAVAIL)";
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return `host not found (${error.code})`;
    default:
      return error.code === undefined ? error.message : `${error.message} (${error.code})`;
  }
}
