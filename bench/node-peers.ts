/** The Node.js peers: small servers in bench/peers/, run by the project's Node, one process each. */
import { join } from 'node:path';
import { NODE_BIN, PEERS_DIR } from './paths.ts';
import { startPinned, waitForPort } from './process.ts';
import type { SystemDefinition, SystemGroup } from './systems.ts';

function nodePeer(
  id: string,
  label: string,
  script: string,
  setup: string,
  group: SystemGroup = 'node',
  extraEnv: Readonly<Record<string, string>> = {},
): SystemDefinition {
  return {
    id,
    label,
    group,
    setup,
    // A variant of a peer (an environment of its own) is measured when asked for.
    onlyWhenNamed: Object.keys(extraEnv).length > 0,
    async start(context) {
      const accessLog = join(context.dir, 'access.log');
      const env = {
        ...process.env,
        NODE_ENV: 'production',
        PORT: String(context.port),
        ORIGIN_PORT: String(context.originPort),
        DEAD_PORT: String(context.deadPort),
        ACCESS_LOG: accessLog,
        ...extraEnv,
      };
      const proc = startPinned({
        cpu: context.cpu,
        command: NODE_BIN,
        args: [join(PEERS_DIR, script)],
        env,
        outputFile: join(context.dir, 'output.log'),
      });
      await waitForPort(context.port, proc, 15_000);
      return { port: context.port, process: proc, accessLog };
    },
  };
}

const LOG = 'pino access log (one line per request) to a file';

/**
 * The ceiling: a proxy on node:net alone, under 100 lines, doing what every proxy here must
 * (keep-alive both sides, hop-by-hop fields out, Via, a request id, a log line per request).
 * Not a Node peer in the "best Node peer" sense: it is what Candor's own server aims at.
 */
export const netCeiling: SystemDefinition = nodePeer(
  'net',
  'raw node:net proxy',
  'net-proxy.mjs',
  'node:net both sides, keep-alive (256 idle upstream sockets), a latin1 head walked line by line with indexOf, hop-by-hop rewrite, Via, X-Forwarded-For and a request id in, each answer corked into one write, no closure or listener made per request (bench/peers/net-proxy.mjs); one JSON line per request from JSON.stringify kept in memory, written to a file every 50 ms (no pino, no regular expression per request)',
  'ceiling',
);

/**
 * The contract's floor: the ceiling's loop doing also, with Candor's own code, what the contract
 * asks of every request (the strict parsers, the normal path, the one head builder both ways,
 * a request id and traceparent, the access line through the gateway's logger) and nothing else.
 * What it does is the most any proxy keeping the contract does here; Candor is read against it.
 */
export const contractFloor: SystemDefinition = nodePeer(
  'floor',
  'contract floor',
  'contract-floor.ts',
  "the raw node:net proxy's loop and idle list, plus Candor's strict request and response parsers, its path normalisation, its head builder both ways (request-headers.ts, answer-headers.ts, the two serializers), a request id and traceparent (core/ids) and its access line (RequestRecord, logRequest, the gateway's batching log writer to a file); no routes, session, attempts, timers, health, circuits or metrics (bench/peers/contract-floor.ts)",
  'floor',
);

/**
 * The contract's floor on the loop of `net-batched`: read against it, what the contract's own
 * pieces cost a proxy whose writes wait for the turn's end, as Candor's do.
 */
export const contractFloorBatched: SystemDefinition = nodePeer(
  'floor-batched',
  'contract floor, writes at the turn end',
  'contract-floor.ts',
  "the contract floor (floor) on the loop of net-batched: its writes held until the end of the event loop's turn by Candor's own turn-end.ts, and eight SO_REUSEPORT listening sockets (BATCHED=1)",
  'node',
  { BATCHED: '1' },
);

export const nodePeers: readonly SystemDefinition[] = [
  // The ceiling with two things Candor's own server does (not the ceiling: what they are
  // worth to a lean proxy, read beside it).
  nodePeer(
    'net-batched',
    'raw node:net proxy, writes at the turn end',
    'net-proxy.mjs',
    "the raw node:net proxy (net), its writes held until the end of the event loop's turn (every socket written in a turn corked, all uncorked in the check phase, as Candor's server does) and eight SO_REUSEPORT listening sockets (BATCHED=1 in bench/peers/net-proxy.mjs)",
    'node',
    { BATCHED: '1' },
  ),
  contractFloorBatched,
  nodePeer(
    'fastify',
    '@fastify/http-proxy',
    'fastify.mjs',
    `fastify + @fastify/http-proxy (undici pool, 256 connections); ${LOG}`,
  ),
  nodePeer(
    'http-proxy',
    'http-proxy',
    'http-proxy.mjs',
    `node:http + http-proxy with a keep-alive http.Agent (256 sockets); ${LOG}`,
  ),
  nodePeer(
    'undici',
    'minimal undici proxy',
    'undici-min.mjs',
    `node:http + undici Pool (256 connections) and pool.stream(), ~40 lines (bench/peers/undici-min.mjs); ${LOG}`,
  ),
];
