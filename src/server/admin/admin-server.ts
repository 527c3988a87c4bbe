import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { withCredentialsMasked } from '../../core/credential-names.ts';
import { answerConnectAsRequest } from '../../core/net/connect-as-request.ts';
import { peerOf } from '../../core/net/peer-of.ts';
import { pipelineRefused } from '../../core/net/pipelined-requests.ts';
import type { Logger } from '../../observe/log/logger.ts';
import { createHostCheck, type HostCheck } from '../gateway/host-check.ts';
import { type AdminAnswer, badField, problem, send } from './answer.ts';
import { bearerMatches, bearerTokenOf } from './token.ts';
import { TokenGuesses } from './token-guesses.ts';

// node:http through process.getBuiltinModule, not an import: an ES module import of node:http
// reads every export to build its namespace, and three of them (WebSocket, CloseEvent,
// MessageEvent) load Node's whole bundled undici (nodejs/node#57649), ~55 ms of CPU and ~13 MB
// resident in a bare process, into the cluster primary, which uses none of them.
const http = process.getBuiltinModule('node:http');

/** One request to the admin API, as a route's handler sees it. */
export interface AdminRequest {
  /** The client's address, for the log line of who did what. */
  readonly who: string;
  /** The JSON body, parsed (undefined when there was none). */
  readonly body: unknown;
  readonly query: URLSearchParams;
}

/**
 * One endpoint. The table of routes is the API: read-only routes another part of the gateway
 * needs (GET /metrics) are added with `AdminServer.mount`, and get the same token check,
 * logging and error answers as the rest.
 */
export interface AdminRoute {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  readonly path: string;
  /** Answered without the token: only the probes, which say nothing but live/ready. */
  readonly open?: boolean;
  /**
   * A write that reads its query (DELETE /cache, which refuses what it does not read itself).
   * Any other write is refused a query: its fields are its body's, and a parameter dropped
   * unread would change what the caller did not ask (`POST /reload?file=OTHER` reloaded the
   * running file). A read ignores what it does not read: it changes nothing.
   */
  readonly query?: true;
  handle(request: AdminRequest): AdminAnswer | Promise<AdminAnswer>;
}

export interface AdminServer {
  /** Adds a route (e.g. GET /metrics). A route with the same method and path is replaced. */
  mount(route: AdminRoute): void;
  /** The token is read again at each reload: rotating it is a reload, not a restart. */
  setToken(token: string): void;
  /** `admin.allowed_hosts` of the config in force. */
  setAllowedHosts(hosts: readonly string[]): void;
  port(): number;
  close(): Promise<void>;
}

/** Admin request bodies are a few fields; anything bigger is not one. */
const MAX_BODY = 64 * 1024;

/**
 * How long a close lets the answers being written finish before it cuts every connection: a
 * request whose head or body is still coming (Node bounds them only at 60 s and 300 s) or an
 * answer its client does not read would otherwise hold the close, and with it the primary's
 * exit after a drain, past any supervisor's stop timeout.
 */
const CLOSE_GRACE_MS = 1_000;

/**
 * The admin listener: its own node:http server (never a main listener: the data path takes no
 * admin traffic and admin traffic does not count against its limits), a bearer token on
 * every route but the probes, JSON answers, RFC 9457 problems for errors. Each call with a
 * token is logged with who made it; each refused one (no or wrong token) is logged as a
 * warning, without the header's content. A client that sent too many wrong tokens is answered
 * 429 with Retry-After, its token unchecked, until its share of guesses refills (token-guesses.ts). Before anything, the Host must be one of the
 * listener's own names (gateway/host-check.ts): 421 Misdirected Request otherwise, the status for an
 * authority this server does not answer for (RFC 9110 §15.5.20), which is what a DNS-rebound
 * name is; 403 would say the client lacks a right, and a right is what the token is about.
 */
export async function startAdminServer(options: {
  readonly host: string;
  readonly port: number;
  readonly token: string;
  readonly allowedHosts: readonly string[];
  readonly routes: readonly AdminRoute[];
  readonly logger: Logger;
}): Promise<AdminServer> {
  const gate: AdminGate = {
    routes: new Map(),
    token: options.token,
    guesses: new TokenGuesses(),
    hosts: createHostCheck(options.host, options.allowedHosts),
    logger: options.logger,
  };
  const mount = (route: AdminRoute) => gate.routes.set(`${route.method} ${route.path}`, route);
  for (const route of options.routes) mount(route);
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    const closed = (who: string, pipelined: number) =>
      gate.logger.warn({ who, pipelined }, 'admin connection closed: too many requests pipelined');
    if (!pipelineRefused(req, res, closed)) void answerAdmin(gate, req, res);
  };
  const server = http.createServer(onRequest);
  // `Expect: 100-continue` is answered by readJson, when an endpoint reads the body: Node's own
  // answer, `100 Continue` before the handler runs, invited the body of a request about to be
  // refused (no token, a wrong Host, past the bound).
  server.on('checkContinue', onRequest);
  // A CONNECT is answered as any other method is: its authority-form target is no path (400); a
  // path gets that path's 405 with Allow, or 401/404.
  answerConnectAsRequest(server, (req, res) => void answerAdmin(gate, req, res));
  await listen(server, options.port, options.host);
  return {
    mount,
    setToken(next) {
      gate.token = next;
    },
    setAllowedHosts(next) {
      gate.hosts = createHostCheck(options.host, next);
    },
    port: () => {
      const address = server.address();
      return typeof address === 'object' && address ? address.port : options.port;
    },
    close: () => closeServer(server),
  };
}

/** What every admin request is checked against: a reload replaces the token and the hosts. */
interface AdminGate {
  /** By `METHOD PATH`. */
  readonly routes: Map<string, AdminRoute>;
  token: string;
  readonly guesses: TokenGuesses;
  hosts: HostCheck;
  readonly logger: Logger;
}

/** One admin request: its target, its Host, its token, then its route's answer. */
async function answerAdmin(gate: AdminGate, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { routes, logger } = gate;
  const who = peerOf(req.socket);
  const method = req.method ?? 'GET';
  // A target no URL can be made of (`http://x:99999/`, `http://[`) names no endpoint: a thrown
  // TypeError here would be an unhandled rejection, and end the primary for anyone's request.
  const url = requestUrl(req.url ?? '/');
  if (url === null) {
    // A credential's value in its query as `***`, as the access line writes a target (credential-names.ts).
    const target = withCredentialsMasked(String(req.url).slice(0, 200));
    logger.warn({ who, method, target }, 'admin bad request target');
    return refuse(req, res, problem(400, 'Bad request', 'the request target is not a path of the admin API'));
  }
  // HEAD is GET without the body (RFC 9110 §9.3.2; node:http sends none): a monitor that
  // probes `HEAD /ready` is answered as GET is, not refused for a token the probe needs not.
  const route =
    routes.get(`${method} ${url.pathname}`) ??
    (method === 'HEAD' ? routes.get(`GET ${url.pathname}`) : undefined);
  const fields = { who, method, path: url.pathname };
  // One authority per request (RFC 9112 §3.2): node:http keeps the first of two Hosts, and the
  // check would pass on it while another reader of the request took the second.
  if (req.rawHeaders.filter((name, i) => i % 2 === 0 && name.toLowerCase() === 'host').length > 1) {
    logger.warn(fields, 'admin bad request: more than one Host');
    return refuse(
      req,
      res,
      problem(400, 'Bad request', 'the request has more than one Host header (RFC 9112 §3.2)'),
    );
  }
  // The authority is the target's when it is absolute (RFC 9112 §3.2.2: the Host beside it is
  // ignored), which is what the request names; only origin-form leaves it to Host.
  const authority = req.url?.startsWith('/') ? req.headers.host : url.host;
  if (!gate.hosts.allows(authority)) {
    const host = String(authority).slice(0, 200);
    logger.warn({ ...fields, host }, 'admin misdirected');
    return refuse(req, res, misdirected(gate.hosts, host));
  }
  const samePath = [...routes.values()].filter((r) => r.path === url.pathname);
  // A path whose every method is open (the probes, the status page's files) needs no token for
  // any method: `POST /live` is a 405 to anyone, never a 401 saying the token would make it work.
  const openPath = samePath.length > 0 && samePath.every((r) => r.open);
  if (!route?.open && !openPath) {
    // One set of credentials per request (Authorization is a singleton, RFC 9110 §11.6.2):
    // node:http keeps the first of two and drops the second, so `Bearer <token>` then `Bearer
    // x` passed, while a proxy before the listener that checks the last one saw `x`. Refused
    // unread, as two Hosts are: no guess spent, nothing of either logged.
    if (
      req.rawHeaders.filter((name, i) => i % 2 === 0 && name.toLowerCase() === 'authorization').length > 1
    ) {
      logger.warn(fields, 'admin bad request: more than one Authorization');
      return refuse(
        req,
        res,
        problem(400, 'Bad request', 'the request has more than one Authorization header (RFC 9110 §11.6.2)'),
      );
    }
    const refused = refusedCaller(req, gate.token, gate.guesses, logger, fields);
    if (refused !== undefined) {
      return refuse(req, res, refused);
    }
  }
  if (route === undefined) {
    const answer = noRoute(samePath, method, url.pathname);
    logger.info({ ...fields, status: answer.status }, 'admin request');
    return refuse(req, res, answer);
  }
  const unread = route.method === 'GET' || route.query ? undefined : url.searchParams.keys().next().value;
  if (unread !== undefined) {
    const answer = badField(
      unread,
      `${method} ${url.pathname} reads no query: its fields are a JSON body's (nothing was changed)`,
    );
    logger.info({ ...fields, status: answer.status }, 'admin request');
    return refuse(req, res, answer);
  }
  let answer: AdminAnswer;
  try {
    const body = await readJson(req, res);
    answer =
      'problem' in body
        ? body.problem
        : await route.handle({ who, body: body.value, query: url.searchParams });
  } catch (err) {
    logger.error({ ...fields, err: (err as Error).message }, 'admin endpoint failed');
    answer = problem(500, 'Internal server error', (err as Error).message);
  }
  if (!route.open) logger.info({ ...fields, status: answer.status }, 'admin request');
  send(res, answer);
}

function misdirected(hosts: HostCheck, host: string): AdminAnswer {
  return problem(
    421,
    'Misdirected request',
    `the admin API answers for ${hosts.describe()}, not for Host ${JSON.stringify(host)}: add it to admin.allowed_hosts if it is this gateway's name`,
  );
}

/** No route for this method: a 405 naming the methods the path takes, or a 404 when it takes none. */
function noRoute(samePath: readonly AdminRoute[], method: string, path: string): AdminAnswer {
  const allowed = samePath.flatMap((r) => (r.method === 'GET' ? ['GET', 'HEAD'] : [r.method]));
  return allowed.length > 0
    ? {
        ...problem(405, 'Method not allowed', `${path} takes ${allowed.join(', ')}`),
        headers: { allow: allowed.join(', ') },
      }
    : problem(404, 'Not found', `no admin endpoint ${method} ${path}`);
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise<void>((resolve) => {
    // Answers being written finish; idle keep-alive connections close now, the rest at the grace.
    const cut = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
    server.close(() => {
      clearTimeout(cut);
      resolve();
    });
    server.closeIdleConnections();
  });
}

/**
 * Why a call that needs the token is refused (a 429 for a client out of guesses, before its token
 * is looked at; a 401 for no token or a wrong one, which spends a guess), logged; undefined
 * when its token is the admin token.
 */
function refusedCaller(
  req: IncomingMessage,
  token: string,
  guesses: TokenGuesses,
  logger: Logger,
  fields: Record<string, string>,
): AdminAnswer | undefined {
  const address = req.socket.remoteAddress ?? '';
  const wait = guesses.waitFor(address);
  if (wait > 0) {
    logger.warn({ ...fields, retry_after: wait }, 'admin token guesses refused');
    return {
      ...problem(
        429,
        'Too many requests',
        `too many wrong admin tokens from this address: no token is checked for ${wait} s`,
      ),
      headers: { 'retry-after': String(wait) },
    };
  }
  const auth = bearerMatches(req.headers.authorization, token);
  if (auth === 'ok') return undefined;
  if (auth === 'wrong') guesses.wrong(address);
  logger.warn({ ...fields, reason: auth === 'missing' ? 'no token' : 'wrong token' }, 'admin unauthorized');
  return {
    ...problem(
      401,
      'Unauthorized',
      auth === 'missing'
        ? 'this call needs the admin token: Authorization: Bearer <token>'
        : 'the token is not the admin token',
    ),
    // RFC 6750 §3.1: a Bearer token that is not the one says invalid_token; a call with none (or
    // another scheme's credentials) gets the challenge alone (§3: no error code then).
    headers: {
      'www-authenticate':
        bearerTokenOf(req.headers.authorization) === undefined
          ? 'Bearer realm="candor-admin"'
          : 'Bearer realm="candor-admin", error="invalid_token"',
    },
  };
}

/**
 * The request target as a URL (RFC 9112 §3.2): origin-form (`/status`) is a path, whatever
 * follows its first slash; resolved against a base, `//status` was a URL of the host "status"
 * and path `/`, and `POST //x/reload` reloaded. Absolute-form (`http://host/status`) is read
 * as written; anything else (`status`) is no target.
 */
function requestUrl(target: string): URL | null {
  if (target.startsWith('/')) return URL.parse(`http://admin${target}`);
  // Absolute-form is an http(s) URL: `localhost:9901` (a CONNECT's authority-form) parsed as
  // the scheme `localhost:` with the path `9901`, and was refused as a wrong Host (421, "").
  const url = URL.parse(target);
  return url?.protocol === 'http:' || url?.protocol === 'https:' ? url : null;
}

/**
 * A body past MAX_BODY: the rest of it is never read, so the connection can carry no other
 * request. It is closed after the answer (`Connection: close`, RFC 9112 §9.6); kept alive, it
 * was said to be (`Keep-Alive: timeout=5`) while the unread body held it, and the client's next
 * request on it got no answer, then a reset. One declared too large is refused before any of it
 * is read.
 */
const TOO_LARGE: AdminAnswer = {
  ...problem(413, 'Content too large', `admin bodies are at most ${MAX_BODY} bytes`),
  headers: { connection: 'close' },
};

/**
 * Answers a request whose body no endpoint reads (refused before one: a bad target, a wrong
 * Host, no token, no endpoint, a query a write does not read). A body declared within MAX_BODY
 * is read and dropped, so that the connection carries the next request; a larger one, or one
 * whose length is not declared (chunked), is never read: the answer says `Connection: close`
 * and the connection ends with it, as it does when the client waits for `100 Continue` to send
 * it. Dropped whatever its size, a refused caller's declared
 * gigabyte was read whole by the primary, at the wire's speed, the connection said to be kept
 * alive and held until the last byte or Node's 300 s.
 */
function refuse(req: IncomingMessage, res: ServerResponse, answer: AdminAnswer): void {
  const declared =
    req.headers['transfer-encoding'] === undefined ? Number(req.headers['content-length'] ?? 0) : NaN;
  // A client waiting for `100 Continue` may send its body after this answer or never: the
  // next bytes are no request either way, so its connection ends too (RFC 9110 §10.1.1).
  const waiting = declared > 0 && req.headers.expect?.toLowerCase() === '100-continue';
  if (declared <= MAX_BODY && !waiting) {
    req.resume();
    return send(res, answer);
  }
  send(res, { ...answer, headers: { ...answer.headers, connection: 'close' } });
}

async function readJson(
  req: IncomingMessage,
  res: ServerResponse,
): Promise<{ value: unknown } | { problem: AdminAnswer }> {
  if (Number(req.headers['content-length']) > MAX_BODY) return { problem: TOO_LARGE };
  // The body is wanted: a client that waits for leave to send it gets it now (RFC 9110 §10.1.1).
  if (req.headers.expect?.toLowerCase() === '100-continue') res.writeContinue();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) return { problem: TOO_LARGE };
    chunks.push(chunk);
  }
  if (size === 0) return { value: undefined };
  try {
    return { value: JSON.parse(Buffer.concat(chunks).toString('utf8')) };
  } catch (err) {
    return {
      problem: problem(400, 'Bad request', `the body is not JSON: ${(err as Error).message}`, {
        field: '(body)',
      }),
    };
  }
}
