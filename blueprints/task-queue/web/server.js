// The task-queue web front end: one page that submits tasks to the API, with /healthz and
// /metrics for the blueprint's probes and Prometheus. Plain node:http, no dependencies.

import { createServer } from "node:http";
import { pathToFileURL } from "node:url";

import { CONTENT_TYPE, observe, render } from "./metrics.js";

// Where the browser sends tasks: the API behind the same proxy in production (/api on this host).
const API_BASE_URL = (process.env.API_BASE_URL || "/api").replace(/\/$/, "");
const DEBUG = (process.env.LOG_LEVEL || "info").toLowerCase() === "debug";

const page = (apiBaseUrl) => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Task queue</title>
<style>body { font: 16px/1.5 system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; padding: 0 1rem; }</style>
</head>
<body>
<h1>Task queue</h1>
<form id="task">
  <label>Numbers to add <input name="numbers" value="1 2 3"></label>
  <button>Submit</button>
</form>
<pre id="out"></pre>
<script>
const API = ${JSON.stringify(apiBaseUrl).replace(/</g, "\\u003c")};
const out = document.getElementById("out");
document.getElementById("task").addEventListener("submit", async (event) => {
  event.preventDefault();
  const numbers = new FormData(event.target).get("numbers").trim().split(/\\s+/).map(Number);
  try {
    const response = await fetch(API + "/tasks", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ kind: "sum", payload: { numbers } }),
    });
    out.textContent = response.status + " " + JSON.stringify(await response.json(), null, 2);
  } catch (error) {
    out.textContent = "The API is not answering: " + error;
  }
});
</script>
</body>
</html>
`;

// Only these label the metrics; anything else is "unmatched", so paths cannot grow the series.
const ROUTES = new Set(["/", "/healthz", "/metrics"]);

function handle(request, response) {
  const path = new URL(request.url, "http://localhost").pathname;
  if (request.method !== "GET" && request.method !== "HEAD") {
    response.writeHead(405, { Allow: "GET, HEAD" }).end();
  } else if (path === "/healthz") {
    response.writeHead(200, { "Content-Type": "text/plain" }).end("ok\n");
  } else if (path === "/metrics") {
    response.writeHead(200, { "Content-Type": CONTENT_TYPE }).end(render());
  } else if (path === "/") {
    response.writeHead(200, { "Content-Type": "text/html; charset=utf-8" }).end(page(API_BASE_URL));
  } else {
    response.writeHead(404, { "Content-Type": "text/plain" }).end("not found\n");
  }
}

export function server() {
  return createServer((request, response) => {
    const started = process.hrtime.bigint();
    response.on("finish", () => {
      const path = new URL(request.url, "http://localhost").pathname;
      const route = ROUTES.has(path) ? path : "unmatched";
      if (DEBUG) console.log(JSON.stringify({ method: request.method, path, status: response.statusCode }));
      // Probes and scrapes are not traffic.
      if (route === "/healthz" || route === "/metrics") return;
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      observe({ method: request.method, route, status_code: response.statusCode }, seconds);
    });
    handle(request, response);
  });
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const port = Number(process.env.PORT || 3000);
  const app = server().listen(port, "0.0.0.0", () => console.log(`listening on :${port}`));
  // docker stop and rollouts send SIGTERM: finish the requests in flight, then exit.
  for (const signal of ["SIGTERM", "SIGINT"]) {
    process.on(signal, () => app.close(() => process.exit(0)));
  }
}
