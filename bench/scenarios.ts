/**
 * The scenarios: what wrk sends, over how many connections. Each one is a wrk Lua script
 * whose `done` prints one JSON line the harness reads (see wrk.ts).
 */

export interface Scenario {
  readonly id: string;
  readonly title: string;
  /** The URL path wrk is pointed at (the script may send other paths). */
  readonly path: string;
  readonly connections: number;
  /** Share of requests that go to the refused port and must fail (0 for most). */
  readonly failShare: number;
  /** Part of `--quick`. */
  readonly quick: boolean;
  /** Lua that sets up the requests; the common `done` is appended. */
  readonly lua: string;
}

const POST_1M = `wrk.method = "POST"
wrk.body = string.rep("z", 1048576)
wrk.headers["Content-Type"] = "application/octet-stream"
`;

// Every 10th request of each connection-thread goes to /fail; requests are built once.
const FAIL_MIX = `local ok_request, fail_request
local n = 0
init = function(args)
  ok_request = wrk.format("GET", "/small")
  fail_request = wrk.format("GET", "/fail")
end
request = function()
  n = n + 1
  if n % 10 == 0 then return fail_request end
  return ok_request
end
`;

// A new connection per request, as many API clients, health checkers, scripts and HTTP/1.0
// clients make: wrk closes and reopens its connection after each answer.
const CONNECTION_CLOSE = `wrk.headers["Connection"] = "close"
`;

export const SCENARIOS: readonly Scenario[] = [
  {
    id: 'small-c50',
    title: 'GET 100-byte response, 50 connections',
    path: '/small',
    connections: 50,
    failShare: 0,
    quick: true,
    lua: '',
  },
  {
    id: 'small-c200',
    title: 'GET 100-byte response, 200 connections',
    path: '/small',
    connections: 200,
    failShare: 0,
    quick: false,
    lua: '',
  },
  {
    id: 'close-c50',
    title: 'GET 100-byte response, a new connection per request (Connection: close), 50 connections',
    path: '/small',
    connections: 50,
    failShare: 0,
    quick: false,
    lua: CONNECTION_CLOSE,
  },
  {
    id: 'get-64k',
    title: 'GET 64 KiB response, 50 connections',
    path: '/64k',
    connections: 50,
    failShare: 0,
    quick: false,
    lua: '',
  },
  {
    id: 'post-1m',
    title: 'POST 1 MiB body, small response, 50 connections',
    path: '/upload',
    connections: 50,
    failShare: 0,
    quick: false,
    lua: POST_1M,
  },
  {
    id: 'fail-mix',
    title: 'GET 100 bytes, 10% of requests to a refused upstream port, 50 connections',
    path: '/small',
    connections: 50,
    failShare: 0.1,
    quick: true,
    lua: FAIL_MIX,
  },
];

/** Appended to every script: one line of JSON with the numbers the tables need. */
export const DONE_LUA = `
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,' ..
    '"status":%d,"timeout":%d,"p50_us":%d,"p99_us":%d,"max_us":%d}\\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
`;
