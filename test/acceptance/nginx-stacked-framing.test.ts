/**
 * HTTP/1.1 framing with a real nginx stacked on Candor, in front of it and behind it: the classic
 * desync payloads (CL.TE, TE.CL, TE obfuscations, repeated or malformed Content-Length, chunk
 * lines, bare CR and LF, NUL, obs-fold, Host, Expect, bodies on GET and HEAD) written raw by a
 * client, and misbehaving origin answers on kept-alive connections. An origin on a raw socket
 * records what reaches it, split into requests by their framing; each case holds:
 *
 * - no request hides in another: whatever any chain forwards is, in order, among the requests
 *   the client sent (never a second request read out of a first one's body, never a body read
 *   as a request), and each answer the client reads names its own request;
 * - Candor's verdict is its own whether nginx stands behind it or not: a refusal is its status,
 *   the connection closed and nothing forwarded; an accepted message reaches the origin whole;
 * - an origin's bad answer never becomes the next request's answer on either pooled connection
 *   (Candor's to the origin, nginx's to Candor).
 *
 * nginx 1.22 (`daemon off; master_process off`) runs as a child with its own prefix in a temp
 * folder; the file is skipped where nginx is not installed.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { rawRequest } from '../helpers/http-client.ts';
import { closeAll } from '../helpers/keep.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { singleUpstream, startTestGateway, type TestGateway } from '../helpers/test-gateway.ts';
import { connects, freePort, waitUntil } from '../helpers/wait.ts';

const NGINX = '/usr/sbin/nginx';

// ── The recording origin ──────────────────────────────────────────────────────────────

/** A raw origin: each request it reads (framed by Content-Length or chunked) as "METHOD /path BODY-LENGTH". */
interface Origin {
  readonly port: number;
  readonly seen: string[];
  close(): Promise<void>;
}

/** What the origin answers to a path: raw bytes (by the request's method). */
type Answer = (method: string) => string;

async function recordingOrigin(answers: Record<string, Answer>): Promise<Origin> {
  const seen: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let pending = '';
    socket.on('data', (chunk: Buffer) => {
      pending += chunk.toString('latin1');
      for (;;) {
        const end = pending.indexOf('\r\n\r\n');
        if (end === -1) return;
        const head = pending.slice(0, end);
        const framed = readBody(head, pending.slice(end + 4));
        if (!framed) return;
        pending = framed.rest;
        const [method, path] = head.split(' ');
        seen.push(`${method} ${path} ${framed.body.length}`);
        const answer = answers[path]?.(method);
        if (answer !== undefined) socket.write(answer);
        else {
          const text = `seen ${method} ${path} ${framed.body.length}`;
          socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${text.length}\r\n\r\n${text}`);
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** The body after a head, by its framing, and what follows it; undefined until it is all there. */
function readBody(head: string, after: string): { body: string; rest: string } | undefined {
  if (/\r\ntransfer-encoding:[ \t]*chunked[ \t]*(\r\n|$)/i.test(head)) {
    let body = '';
    let at = 0;
    for (;;) {
      const lineEnd = after.indexOf('\r\n', at);
      if (lineEnd === -1) return undefined;
      const size = Number.parseInt(after.slice(at, lineEnd), 16);
      if (size === 0) {
        const trailerEnd = after.indexOf('\r\n\r\n', at);
        return trailerEnd === -1 ? undefined : { body, rest: after.slice(trailerEnd + 4) };
      }
      if (after.length < lineEnd + 2 + size + 2) return undefined;
      body += after.slice(lineEnd + 2, lineEnd + 2 + size);
      at = lineEnd + 2 + size + 2;
    }
  }
  const length = Number(/\r\ncontent-length:[ \t]*(\d+)/i.exec(head)?.[1] ?? 0);
  return after.length < length ? undefined : { body: after.slice(0, length), rest: after.slice(length) };
}

// ── nginx ─────────────────────────────────────────────────────────────────────────────

interface Nginx {
  /** Its access log: one line a request, `$request|$status|$content_length`. */
  access(): string[];
  close(): Promise<void>;
}

async function startNginx(dir: string, servers: string, ports: readonly number[]): Promise<Nginx> {
  const conf = join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    `daemon off; master_process off; worker_processes 1; pid ${dir}/nginx.pid; error_log ${dir}/error.log info;
events { worker_connections 128; }
http {
  log_format framing '$request|$status|$content_length';
  access_log ${dir}/access.log framing;
  client_body_temp_path ${dir}; proxy_temp_path ${dir}; fastcgi_temp_path ${dir}; uwsgi_temp_path ${dir}; scgi_temp_path ${dir};
  ${servers}
}
`,
  );
  const child: ChildProcess = spawn(NGINX, ['-p', dir, '-c', conf, '-e', join(dir, 'error.log')], {
    stdio: 'ignore',
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // Without a master process nothing else would stop it: killed with this process too, whatever ends it.
  const killAtExit = () => child.kill('SIGKILL');
  process.once('exit', killAtExit);
  exited.then(() => process.off('exit', killAtExit));
  const close = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  };
  try {
    await waitUntil('nginx listening', async () => {
      if (child.exitCode !== null)
        throw new Error(`nginx exited: ${readFileSync(join(dir, 'error.log'), 'utf8')}`);
      return (await Promise.all(ports.map(connects))).every(Boolean);
    });
  } catch (error) {
    await close();
    throw error;
  }
  const accessLog = join(dir, 'access.log');
  return {
    access: () => (existsSync(accessLog) ? readFileSync(accessLog, 'utf8').split('\n').filter(Boolean) : []),
    close,
  };
}

// ── Helpers ───────────────────────────────────────────────────────────────────────────

/** The final status codes in what a client read (1xx left out). */
const finalStatuses = (raw: string) =>
  [...raw.matchAll(/HTTP\/1\.[01] (\d{3}) /g)].map((m) => Number(m[1])).filter((s) => s >= 200);

/** The requests the answers the client read name, in order ("seen METHOD /path LENGTH"). */
const answered = (raw: string) => [...raw.matchAll(/seen ([A-Z]+ \S+ \d+)/g)].map((m) => m[1]);

/** The requests whose answers carry a body naming them: a HEAD's has none. */
const withBodies = (requests: readonly string[]) => requests.filter((r) => !r.startsWith('HEAD '));

/** Whether `part` is `whole` with some entries left out, the rest in order. */
function isSubsequence(part: readonly string[], whole: readonly string[]): boolean {
  let at = 0;
  for (const entry of part) {
    at = whole.indexOf(entry, at);
    if (at === -1) return false;
    at++;
  }
  return true;
}

// ── The cases ─────────────────────────────────────────────────────────────────────────

const H = 'Host: x\r\n';
/** A request pipelined behind the case's own: forwarded only where its framing was read as the client's. */
const SMUGGLED = `GET /smuggled HTTP/1.1\r\n${H}Connection: close\r\n\r\n`;
const LAST = `GET /last HTTP/1.1\r\n${H}Connection: close\r\n\r\n`;
const CHUNKED = 'Transfer-Encoding: chunked\r\n';

interface RequestCase {
  readonly name: string;
  readonly bytes: string;
  /** Candor's verdict, in front of the origin or of nginx: its refusal's status, or the requests forwarded. */
  readonly candor: number | readonly string[];
  /**
   * What a reader accepting the bytes as sent takes them for (RFC 9112 §2.2 lets a recipient
   * take a bare LF for CRLF): nginx in front may forward these, never anything else. Absent:
   * Candor's own list, or nothing at all where Candor refuses.
   */
  readonly lenient?: readonly string[];
}

const REQUESTS: readonly RequestCase[] = [
  {
    name: 'CL.TE',
    bytes: `POST /a HTTP/1.1\r\n${H}Content-Length: 4\r\n${CHUNKED}\r\n0\r\n\r\n${SMUGGLED}`,
    candor: 400,
  },
  {
    name: 'TE.CL',
    bytes: `POST /a HTTP/1.1\r\n${H}${CHUNKED}Content-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n${SMUGGLED}`,
    candor: 400,
  },
  {
    name: 'Transfer-Encoding: xchunked, with a Content-Length',
    bytes: `POST /a HTTP/1.1\r\n${H}Transfer-Encoding: xchunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n${SMUGGLED}`,
    candor: 400,
  },
  {
    name: 'Transfer-Encoding: chunked, identity',
    bytes: `POST /a HTTP/1.1\r\n${H}Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n${SMUGGLED}`,
    candor: 400,
  },
  {
    name: 'Transfer-Encoding on two lines',
    bytes: `POST /a HTTP/1.1\r\n${H}${CHUNKED}${CHUNKED}\r\n0\r\n\r\n${SMUGGLED}`,
    candor: 400,
  },
  {
    name: 'Transfer-Encoding in an obs-fold continuation line',
    bytes: `POST /a HTTP/1.1\r\n${H}Transfer-Encoding:\r\n chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n${SMUGGLED}`,
    candor: 400,
  },
  {
    name: 'Transfer-Encoding:  chunked (more whitespace) is chunked',
    bytes: `POST /a HTTP/1.1\r\n${H}Transfer-Encoding:  chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n${LAST}`,
    candor: ['POST /a 3', 'GET /last 0'],
  },
  {
    name: 'Transfer-Encoding:<TAB>chunked is chunked',
    bytes: `POST /a HTTP/1.1\r\n${H}Transfer-Encoding:\tchunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n${LAST}`,
    candor: ['POST /a 3', 'GET /last 0'],
  },
  {
    name: 'Transfer_Encoding (an underscore) beside a Content-Length: the length frames it, the field is dropped',
    bytes: `POST /a HTTP/1.1\r\n${H}Transfer_Encoding: chunked\r\nContent-Length: 5\r\n\r\nhello${LAST}`,
    candor: ['POST /a 5', 'GET /last 0'],
  },
  {
    name: 'Content-Length twice, equal',
    bytes: `POST /a HTTP/1.1\r\n${H}Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello${LAST}`,
    candor: 400,
  },
  {
    name: 'Content-Length twice, different',
    bytes: `POST /a HTTP/1.1\r\n${H}Content-Length: 5\r\nContent-Length: 40\r\n\r\nhello${SMUGGLED}`,
    candor: 400,
  },
  ...['0x10', '+5', '5 5', '-1', '99999999999999999999'].map((value) => ({
    name: `Content-Length: ${value}`,
    bytes: `POST /a HTTP/1.1\r\n${H}Content-Length: ${value}\r\n\r\n0123456789abcdef${SMUGGLED}`,
    candor: 400,
  })),
  ...[17, 40].map((zeros) => ({
    name: `a chunk size with ${zeros} leading zeros`,
    bytes: `POST /a HTTP/1.1\r\n${H}${CHUNKED}\r\n${'0'.repeat(zeros)}5\r\nhello\r\n0\r\n\r\n${LAST}`,
    candor: ['POST /a 5', 'GET /last 0'],
  })),
  {
    name: 'a chunk size past 64 bits',
    bytes: `POST /a HTTP/1.1\r\n${H}${CHUNKED}\r\n10000000000000005\r\nhello\r\n0\r\n\r\n${SMUGGLED}`,
    candor: 400,
  },
  {
    name: 'a chunk extension whose quoted string holds a CRLF',
    bytes: `POST /a HTTP/1.1\r\n${H}${CHUNKED}\r\n5;a="x\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n${H}"\r\nhello\r\n0\r\n\r\n${LAST}`,
    candor: 400,
  },
  {
    name: 'chunk data longer than its size',
    bytes: `POST /a HTTP/1.1\r\n${H}${CHUNKED}\r\n3\r\nhello\r\n0\r\n\r\n${SMUGGLED}`,
    candor: 400,
  },
  {
    name: 'a bare LF ending the head lines',
    bytes: `GET /a HTTP/1.1\n${H.replace('\r\n', '\n')}X: y\n\n${SMUGGLED}`,
    candor: 400,
    lenient: ['GET /a 0', 'GET /smuggled 0'],
  },
  {
    name: 'a bare LF ending a chunk-size line',
    bytes: `POST /a HTTP/1.1\r\n${H}${CHUNKED}\r\n5\nhello\r\n0\r\n\r\n${SMUGGLED}`,
    candor: 400,
    lenient: ['POST /a 5', 'GET /smuggled 0'],
  },
  {
    name: 'a bare LF ending the last chunk and the trailers',
    bytes: `POST /a HTTP/1.1\r\n${H}${CHUNKED}\r\n5\r\nhello\r\n0\n\n${SMUGGLED}`,
    candor: 400,
    lenient: ['POST /a 5', 'GET /smuggled 0'],
  },
  {
    name: 'a bare CR inside the head',
    bytes: `GET /a HTTP/1.1\r\n${H}X: y\rTransfer-Encoding: chunked\r\n\r\n${SMUGGLED}`,
    candor: 400,
  },
  {
    name: 'a bare CR ending a chunk-size line',
    bytes: `POST /a HTTP/1.1\r\n${H}${CHUNKED}\r\n5\rhello\r\n0\r\n\r\n${SMUGGLED}`,
    candor: 400,
  },
  { name: 'a NUL in a field value', bytes: `GET /a HTTP/1.1\r\n${H}X: a\0b\r\n\r\n${SMUGGLED}`, candor: 400 },
  {
    name: 'whitespace before the colon of Content-Length',
    bytes: `POST /a HTTP/1.1\r\n${H}Content-Length : 5\r\n\r\nhello${SMUGGLED}`,
    candor: 400,
  },
  {
    name: 'whitespace before the colon of Transfer-Encoding, beside a Content-Length',
    bytes: `POST /a HTTP/1.1\r\n${H}Transfer-Encoding : chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n${SMUGGLED}`,
    candor: 400,
  },
  {
    name: 'an absolute-form target naming another host than Host',
    bytes: `GET http://other/a HTTP/1.1\r\n${H}\r\n${LAST}`,
    candor: ['GET /a 0', 'GET /last 0'],
  },
  { name: 'Host twice', bytes: `GET /a HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n${SMUGGLED}`, candor: 400 },
  {
    name: 'HTTP/1.0 with Transfer-Encoding: chunked',
    bytes: `POST /a HTTP/1.0\r\n${H}Connection: keep-alive\r\n${CHUNKED}Content-Length: 4\r\n\r\n0\r\n\r\n${SMUGGLED}`,
    candor: 400,
  },
  {
    name: 'Connection naming Content-Length: the length still frames the body upstream',
    bytes: `POST /a HTTP/1.1\r\n${H}Connection: Content-Length\r\nContent-Length: 5\r\n\r\nhello${LAST}`,
    candor: ['POST /a 5', 'GET /last 0'],
  },
  {
    name: 'Connection naming Transfer-Encoding',
    bytes: `POST /a HTTP/1.1\r\n${H}Connection: Transfer-Encoding\r\n${CHUNKED}\r\n5\r\nhello\r\n0\r\n\r\n${LAST}`,
    candor: ['POST /a 5', 'GET /last 0'],
  },
  {
    name: 'Content-Length in the trailers is not framing',
    bytes: `POST /a HTTP/1.1\r\n${H}${CHUNKED}\r\n5\r\nhello\r\n0\r\nContent-Length: 50\r\n\r\n${LAST}`,
    candor: ['POST /a 5', 'GET /last 0'],
  },
  {
    name: 'Expect: 100-continue with the body and a request pipelined behind it',
    bytes: `POST /a HTTP/1.1\r\n${H}Content-Length: 5\r\nExpect: 100-continue\r\n\r\nhello${LAST}`,
    candor: ['POST /a 5', 'GET /last 0'],
  },
  {
    name: 'a GET with a body, then a pipelined GET',
    bytes: `GET /a HTTP/1.1\r\n${H}Content-Length: 5\r\n\r\nhello${LAST}`,
    candor: ['GET /a 5', 'GET /last 0'],
  },
  {
    name: 'a GET whose body is a request',
    bytes: `GET /a HTTP/1.1\r\n${H}Content-Length: ${SMUGGLED.length}\r\n\r\n${SMUGGLED}${LAST}`,
    candor: [`GET /a ${SMUGGLED.length}`, 'GET /last 0'],
  },
  {
    name: 'a HEAD answered with a Content-Length, then a pipelined GET',
    bytes: `HEAD /head HTTP/1.1\r\n${H}\r\n${LAST}`,
    candor: ['HEAD /head 0', 'GET /last 0'],
  },
];

/** Origin answers that break the rules, each followed on its connection by another request. */
const ANSWERS: Record<string, Answer> = {
  '/head': () => 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n',
  '/two-lengths': () => 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!',
  '/length-and-chunked': () =>
    'HTTP/1.1 200 OK\r\nContent-Length: 40\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\nPOISON',
  '/204-with-body': () => 'HTTP/1.1 204 No Content\r\nContent-Length: 6\r\n\r\nPOISON',
  '/204-then-answer': () =>
    'HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nPOISON',
  '/304-with-body': () => 'HTTP/1.1 304 Not Modified\r\nContent-Length: 6\r\n\r\nPOISON',
  '/past-length': () =>
    'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nPOISON',
  '/past-last-chunk': () =>
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nPOISON',
  '/bad-trailer': () =>
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-T: a\nContent-Length: 6\r\n\r\nPOISON',
  '/head-with-body': () => 'HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nPOISON',
  '/100-with-body': () =>
    'HTTP/1.1 100 Continue\r\nContent-Length: 6\r\n\r\nPOISONHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok',
};

/** [method, path, Candor's status for it]: the second request on the connection, and the next one on the pool, get their own answers. */
const MISBEHAVING: readonly [string, string, number][] = [
  ['GET', '/two-lengths', 502],
  ['HEAD', '/two-lengths', 502],
  ['GET', '/length-and-chunked', 502],
  ['GET', '/204-with-body', 204],
  ['GET', '/204-then-answer', 204],
  ['GET', '/304-with-body', 304],
  ['HEAD', '/304-with-body', 304],
  ['GET', '/past-length', 200],
  ['GET', '/past-last-chunk', 200],
  ['HEAD', '/past-last-chunk', 200],
  ['GET', '/bad-trailer', 200],
  ['HEAD', '/head-with-body', 200],
  ['GET', '/100-with-body', 502],
];

// ── The tests ─────────────────────────────────────────────────────────────────────────

describe('HTTP/1.1 framing with nginx in front of Candor and behind it', {
  skip: existsSync(NGINX) ? false : 'nginx is not installed',
}, () => {
  let origin: Origin;
  /** Candor in front of the origin; Candor in front of nginx (a proxy to the origin); Candor in front of nginx serving itself. */
  let direct: TestGateway;
  let beforeNginx: TestGateway;
  let beforeNginxOrigin: TestGateway;
  let nginx: Nginx;
  /** nginx in front of `direct`. */
  let front: number;
  let dir: string;

  before(async () => {
    origin = await recordingOrigin(ANSWERS);
    const oneTry = { upstream: '    retries: { attempts: 1 }' };
    direct = await startTestGateway(singleUpstream(`http://127.0.0.1:${origin.port}`, oneTry));
    dir = tempDir('candor-nginx-stacked-');
    writeFileSync(join(dir, 'file.txt'), 'static file body\n');
    const [proxy, served] = [await freePort(), await freePort()];
    front = await freePort();
    // Kept-alive connections both ways (nginx's `keepalive` needs HTTP/1.1 and an empty Connection).
    const pass = (to: string) =>
      `proxy_pass http://${to}; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_set_header Host $http_host;`;
    nginx = await startNginx(
      dir,
      `upstream candor { server 127.0.0.1:${direct.port}; keepalive 4; }
  upstream origin { server 127.0.0.1:${origin.port}; keepalive 4; }
  server { listen 127.0.0.1:${front}; location / { ${pass('candor')} } }
  server { listen 127.0.0.1:${proxy}; location / { ${pass('origin')} } }
  server {
    listen 127.0.0.1:${served};
    location = /file.txt { root ${dir}; }
    location / { return 200 "origin $request_method $uri $content_length\\n"; }
  }`,
      [front, proxy, served],
    );
    beforeNginx = await startTestGateway(singleUpstream(`http://127.0.0.1:${proxy}`, oneTry));
    beforeNginxOrigin = await startTestGateway(singleUpstream(`http://127.0.0.1:${served}`, oneTry));
  });

  after(() => closeAll(direct, beforeNginx, beforeNginxOrigin, nginx, origin));

  /** Sends `bytes` on one connection of `port`; what the origin got from it, and what the client read. */
  async function send(port: number, bytes: string) {
    const from = origin.seen.length;
    const res = await rawRequest(port, bytes);
    return { ...res, forwarded: origin.seen.slice(from) };
  }

  for (const c of REQUESTS) {
    test(`a client sends ${c.name}`, async () => {
      const lenient = c.lenient ?? (typeof c.candor === 'number' ? [] : c.candor);
      for (const [chain, port] of [
        ['Candor', direct.port],
        ['Candor before nginx', beforeNginx.port],
      ] as const) {
        const res = await send(port, c.bytes);
        if (typeof c.candor === 'number') {
          assert.deepEqual(finalStatuses(res.raw), [c.candor], `${chain}: one refusal\n${res.raw}`);
          assert.ok(res.closed, `${chain}: the connection closes`);
          assert.deepEqual(res.forwarded, [], `${chain}: nothing forwarded`);
        } else {
          assert.deepEqual(res.forwarded, c.candor, `${chain}: forwarded as sent\n${res.raw}`);
          assert.deepEqual(answered(res.raw), withBodies(c.candor), `${chain}: each answer its own`);
        }
      }
      // nginx reads some messages Candor refuses; whatever it forwards, Candor must read as it meant it.
      const res = await send(front, c.bytes);
      assert.ok(
        isSubsequence(res.forwarded, lenient),
        `nginx before Candor forwarded ${JSON.stringify(res.forwarded)}, not among ${JSON.stringify(lenient)}\n${res.raw}`,
      );
      assert.deepEqual(
        answered(res.raw),
        withBodies(res.forwarded),
        `nginx before Candor: each answer its own\n${res.raw}`,
      );
      if (res.forwarded.length === 0) assert.ok(finalStatuses(res.raw)[0] >= 400, res.raw);
    });
  }

  for (const [method, path, status] of MISBEHAVING) {
    test(`an origin answering ${method} ${path}: the next answer on each pooled connection is its own`, async () => {
      for (const [chain, port] of [
        ['Candor', direct.port],
        ['nginx before Candor', front],
      ] as const) {
        const res = await send(port, `${method} ${path} HTTP/1.1\r\n${H}\r\n${LAST}`);
        assert.equal(finalStatuses(res.raw)[0], status, `${chain}\n${res.raw}`);
        assert.doesNotMatch(res.raw, /POISON/, `${chain}\n${res.raw}`);
        // The pipelined request is answered, or the connection was closed before it (a body cut short).
        const own = answered(res.raw);
        assert.ok(own.length === 0 || (own.length === 1 && own[0] === 'GET /last 0'), `${chain}\n${res.raw}`);
        const next = await send(port, LAST);
        assert.deepEqual(
          answered(next.raw),
          ['GET /last 0'],
          `${chain}: the next client's answer\n${next.raw}`,
        );
        assert.doesNotMatch(next.raw, /POISON/);
      }
    });
  }

  test('Candor before nginx serving itself: pipelined requests with bodies, HEAD and Range each get their own answer', async () => {
    const logged = nginx.access().length;
    const res = await rawRequest(
      beforeNginxOrigin.port,
      `GET /file.txt HTTP/1.1\r\n${H}Content-Length: 5\r\n\r\nhello` +
        `HEAD /file.txt HTTP/1.1\r\n${H}\r\n` +
        `GET /file.txt HTTP/1.1\r\n${H}Range: bytes=0-5\r\n\r\n` +
        `POST /echo HTTP/1.1\r\n${H}${CHUNKED}\r\n5\r\nhello\r\n0\r\n\r\n` +
        `GET /echo HTTP/1.1\r\n${H}Content-Length: ${SMUGGLED.length}\r\n\r\n${SMUGGLED}` +
        LAST,
    );
    assert.deepEqual(finalStatuses(res.raw), [200, 200, 206, 200, 200, 200], res.raw);
    const bodies = res.raw.split(/HTTP\/1\.1 \d{3} [^\r]*\r\n(?:[^\r]+\r\n)*\r\n/).slice(1);
    assert.deepEqual(bodies, [
      'static file body\n',
      '',
      'static',
      'origin POST /echo 5\n',
      `origin GET /echo ${SMUGGLED.length}\n`,
      'origin GET /last \n',
    ]);
    assert.ok(res.closed);
    assert.deepEqual(
      nginx
        .access()
        .slice(logged)
        .map((line) => line.replace(/ HTTP\/1\.1\|/, '|')),
      [
        'GET /file.txt|200|5',
        'HEAD /file.txt|200|-',
        'GET /file.txt|206|-',
        'POST /echo|200|5',
        `GET /echo|200|${SMUGGLED.length}`,
        'GET /last|200|-',
      ],
      'nginx read the requests Candor forwarded, one for one',
    );
  });
});
