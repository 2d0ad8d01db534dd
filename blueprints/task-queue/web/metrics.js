// Prometheus metrics in the text format, without a client library: one histogram, under the
// name and labels the blueprint's rules and dashboards query for a Node service
// (http_request_duration_seconds{method, route, status_code}), and two process gauges.

const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const startTime = Date.now() / 1000;
const series = new Map(); // one entry per label set: { labels, counts, sum, count }

export function observe(labels, seconds) {
  const key = JSON.stringify(labels);
  let s = series.get(key);
  if (!s) {
    s = { labels, counts: BUCKETS.map(() => 0), sum: 0, count: 0 };
    series.set(key, s);
  }
  BUCKETS.forEach((le, i) => {
    if (seconds <= le) s.counts[i] += 1;
  });
  s.sum += seconds;
  s.count += 1;
}

const escape = (value) => String(value).replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
const format = (labels) =>
  Object.entries(labels)
    .map(([name, value]) => `${name}="${escape(value)}"`)
    .join(",");

export function render() {
  const lines = [
    "# HELP http_request_duration_seconds Time to answer an HTTP request.",
    "# TYPE http_request_duration_seconds histogram",
  ];
  for (const { labels, counts, sum, count } of series.values()) {
    BUCKETS.forEach((le, i) => lines.push(`http_request_duration_seconds_bucket{${format({ ...labels, le })}} ${counts[i]}`));
    lines.push(`http_request_duration_seconds_bucket{${format({ ...labels, le: "+Inf" })}} ${count}`);
    lines.push(`http_request_duration_seconds_sum{${format(labels)}} ${sum}`);
    lines.push(`http_request_duration_seconds_count{${format(labels)}} ${count}`);
  }
  lines.push(
    "# HELP process_start_time_seconds Start time of the process since the Unix epoch, in seconds.",
    "# TYPE process_start_time_seconds gauge",
    `process_start_time_seconds ${startTime}`,
    "# HELP process_resident_memory_bytes Resident memory size in bytes.",
    "# TYPE process_resident_memory_bytes gauge",
    `process_resident_memory_bytes ${process.memoryUsage().rss}`,
  );
  return lines.join("\n") + "\n";
}

export const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";
