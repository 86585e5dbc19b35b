import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { HubMonitor } from "./hub-monitor.js";
import { METRICS_CONTENT_TYPE, renderMetrics } from "./metrics.js";
import { STATUS_PAGE_CSP, STATUS_PAGE_HTML } from "./status-page.js";

export interface StatusServerOptions {
  monitor: HubMonitor;
  /** The hub's token: when set, every route needs it. Default: none (open, like the hub itself). */
  token?: string | undefined;
  /** How often `/events` pushes a snapshot even when nothing happened (the chart moves). Default 1000. */
  intervalMs?: number;
}

export interface StatusServer {
  /** The `request` listener for an `http.Server`. WebSocket upgrades never reach it. */
  handle(request: IncomingMessage, response: ServerResponse): void;
  /** Ends every open `/events` stream (before the HTTP server closes). */
  close(): void;
}

const COOKIE = "distsync_status";
/** Snapshots pushed on events are spaced at least this much (a burst of changes is one message). */
const MIN_PUSH_MS = 100;

/**
 * The hub's HTTP routes, on the same port as its WebSocket: `/` (the live page), `/status.json`,
 * `/events` (server-sent events, a snapshot each) and `/metrics` (Prometheus).
 *
 * With a token, a request needs `Authorization: Bearer <token>`, or the cookie that `?token=<token>`
 * sets once: a browser cannot add a header to a page load or to EventSource. The cookie holds a
 * hash of the token, not the token, and is HttpOnly and SameSite=Strict.
 */
export function createStatusServer(options: StatusServerOptions): StatusServer {
  const { monitor } = options;
  const interval = options.intervalMs ?? 1000;
  const expected = options.token === undefined ? undefined : digest(options.token);
  const cookieValue = options.token === undefined ? "" : digest(`cookie:${options.token}`).toString("hex");
  const streams = new Set<ServerResponse>();
  let timer: ReturnType<typeof setInterval> | undefined;
  let pending: ReturnType<typeof setTimeout> | undefined;
  let lastPush = 0;

  const push = (): void => {
    pending = undefined;
    lastPush = Date.now();
    const data = `data: ${JSON.stringify(monitor.snapshot())}\n\n`;
    for (const stream of streams) stream.write(data);
  };
  // A change, conflict, join or leave is shown at once (at most every MIN_PUSH_MS).
  monitor.onUpdate(() => {
    if (streams.size === 0 || pending !== undefined) return;
    pending = setTimeout(push, Math.max(0, lastPush + MIN_PUSH_MS - Date.now()));
  });

  const authorized = (request: IncomingMessage, url: URL): "ok" | "missing" | "wrong" | "query" => {
    if (expected === undefined) return "ok";
    const header = request.headers.authorization;
    if (header !== undefined) {
      const match = /^Bearer\s+(.+)$/i.exec(header.trim());
      return match?.[1] !== undefined && same(digest(match[1]), expected) ? "ok" : "wrong";
    }
    const query = url.searchParams.get("token");
    if (query !== null) return same(digest(query), expected) ? "query" : "wrong";
    const cookie = readCookie(request.headers.cookie, COOKIE);
    if (cookie !== undefined) {
      return cookie.length === cookieValue.length && same(Buffer.from(cookie), Buffer.from(cookieValue))
        ? "ok"
        : "wrong";
    }
    return "missing";
  };

  return {
    handle(request, response) {
      const url = new URL(request.url ?? "/", "http://hub.invalid");
      const headers: Record<string, string> = {
        "cache-control": "no-store",
        "x-content-type-options": "nosniff",
        "referrer-policy": "no-referrer",
      };
      if (request.method !== "GET" && request.method !== "HEAD") {
        send(response, 405, { ...headers, allow: "GET, HEAD" }, "Only GET and HEAD are supported.\n");
        return;
      }
      const route = url.pathname;
      if (!["/", "/status.json", "/events", "/metrics"].includes(route)) {
        send(
          response,
          404,
          headers,
          "Not found. This DistSync hub serves /, /status.json, /events and /metrics.\n",
        );
        return;
      }
      const auth = authorized(request, url);
      if (auth === "missing" || auth === "wrong") {
        const why =
          auth === "missing" ? "This hub needs its token." : "Wrong token: this is not the hub's token.";
        send(
          response,
          401,
          { ...headers, "www-authenticate": 'Bearer realm="distsync"' },
          `${why} Send 'Authorization: Bearer <token>', or open /?token=<token> once in a browser (it sets a cookie).\n`,
        );
        return;
      }
      if (auth === "query") {
        headers["set-cookie"] = `${COOKIE}=${cookieValue}; Path=/; HttpOnly; SameSite=Strict`;
        // The page: drop the token from the address bar and the history.
        if (route === "/") {
          url.searchParams.delete("token");
          send(response, 303, { ...headers, location: `/${url.search}` }, "");
          return;
        }
      }
      switch (route) {
        case "/":
          send(
            response,
            200,
            {
              ...headers,
              "content-type": "text/html; charset=utf-8",
              "content-security-policy": STATUS_PAGE_CSP,
            },
            STATUS_PAGE_HTML,
          );
          return;
        case "/status.json":
          send(
            response,
            200,
            { ...headers, "content-type": "application/json; charset=utf-8" },
            `${JSON.stringify(monitor.snapshot())}\n`,
          );
          return;
        case "/metrics":
          send(response, 200, { ...headers, "content-type": METRICS_CONTENT_TYPE }, renderMetrics(monitor));
          return;
        case "/events":
          response.writeHead(200, {
            ...headers,
            "content-type": "text/event-stream; charset=utf-8",
            connection: "keep-alive",
          });
          if (request.method === "HEAD") {
            response.end();
            return;
          }
          response.write(`retry: 2000\ndata: ${JSON.stringify(monitor.snapshot())}\n\n`);
          streams.add(response);
          timer ??= setInterval(push, interval);
          response.on("close", () => {
            streams.delete(response);
            if (streams.size === 0 && timer !== undefined) {
              clearInterval(timer);
              timer = undefined;
            }
          });
          return;
      }
    },
    close() {
      if (timer !== undefined) clearInterval(timer);
      if (pending !== undefined) clearTimeout(pending);
      timer = undefined;
      pending = undefined;
      for (const stream of streams) stream.end();
      streams.clear();
    },
  };
}

function send(response: ServerResponse, status: number, headers: Record<string, string>, body: string): void {
  const type = headers["content-type"] ?? "text/plain; charset=utf-8";
  response.writeHead(status, {
    ...headers,
    "content-type": type,
    "content-length": String(Buffer.byteLength(body)),
  });
  response.end(response.req.method === "HEAD" ? undefined : body);
}

/** SHA-256, so that tokens of different lengths compare in constant time. */
function digest(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}

function same(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

function readCookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq !== -1 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
