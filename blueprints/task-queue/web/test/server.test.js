import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { server } from "../server.js";

let app;
let base;

before(async () => {
  app = server();
  await new Promise((resolve) => app.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${app.address().port}`;
});

after(() => app.close());

test("/healthz answers 200", async () => {
  const response = await fetch(`${base}/healthz`);
  assert.equal(response.status, 200);
});

test("the page posts tasks to the API", async () => {
  const body = await (await fetch(`${base}/`)).text();
  assert.match(body, /<h1>Task queue<\/h1>/);
  assert.match(body, /API \+ "\/tasks"/);
});

test("/metrics has the request histogram, not the probes", async () => {
  await fetch(`${base}/`);
  await fetch(`${base}/no/such/page`);
  const body = await (await fetch(`${base}/metrics`)).text();
  assert.match(body, /http_request_duration_seconds_count\{method="GET",route="\/",status_code="200"\} \d+/);
  assert.match(body, /http_request_duration_seconds_bucket\{method="GET",route="unmatched",status_code="404",le="\+Inf"\} 1/);
  assert.doesNotMatch(body, /route="\/healthz"/);
});
