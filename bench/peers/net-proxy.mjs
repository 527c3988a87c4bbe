// The raw node:net ceiling: a Node proxy without node:http, as lean as one can be and still do
// what Candor must. Keep-alive both sides, an idle list of upstream sockets; a head read as
// latin1 and walked line by line with indexOf; hop-by-hop fields out (and those Connection
// names); Via, X-Forwarded-For and a request id in; each answer's head and first bytes corked
// into one write; one JSON line per request from JSON.stringify, kept in memory and written
// every 50 ms (line-log.mjs). Content-Length request bodies (streamed on); Content-Length,
// chunked (no trailers) and close-delimited responses. No regular expression, and no closure
// or listener made per request: each socket has its handlers once, its state in an object.
// BATCHED=1 (bench's `net-batched`): the same proxy with three things Candor's own server does,
// to show what they are worth to a lean one: both sides' reads straight from the socket into one
// buffer of the process's (Candor's direct-reads.ts; what is kept past a read, or written and held
// to the turn's end, copied out), the turn's writes held until its end (each socket corked, all
// uncorked in the check phase: one wake-up of a sleeping peer serves them all), and eight
// SO_REUSEPORT listening sockets (libuv accepts one connection a turn on each).
import { randomBytes } from 'node:crypto';
import { connect, createServer } from 'node:net';
import { connectDirectReads, takeAcceptedReads, takeReads } from '../../src/core/net/direct-reads.ts';
import { logRecord } from './line-log.mjs';

const [PORT, ORIGIN, DEAD] = ['PORT', 'ORIGIN_PORT', 'DEAD_PORT'].map((k) => Number(process.env[k]));
const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'transfer-encoding', 'upgrade']);
const OURS = new Set(['via', 'x-forwarded-for', 'x-request-id']);
const NONE = new Set();
const BAD_GATEWAY = 'HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n';
const ID_PREFIX = `${randomBytes(6).toString('hex')}-`; // unique across processes, a counter within one
const idle = { [ORIGIN]: [], [DEAD]: [] };
let ids = 0;
const BATCHED = process.env.BATCHED === '1';
let held = [];
let holding = false;
function releaseHeld() {
  const sockets = held;
  held = [];
  holding = false;
  for (const socket of sockets) socket.uncork();
}
/** Corks `socket` until the end of the turn (BATCHED), or until `release` (else). */
function hold(socket) {
  socket.cork();
  if (!BATCHED) return;
  held.push(socket);
  if (!holding) {
    holding = true;
    setImmediate(releaseHeld);
  }
}
function release(socket) {
  if (!BATCHED) socket.uncork();
}
/** Bytes kept past a read (or held in a corked write): a copy when reads share one buffer (BATCHED). */
const own = BATCHED ? (bytes) => Buffer.from(bytes) : (bytes) => bytes;
const isFail = (url) => url === '/fail' || url.startsWith('/fail/') || url.startsWith('/fail?');

/**
 * One head's fields: the lines kept (hop-by-hop ones, those its Connection names and those in
 * `drop` out) as one string, and the values the proxy reads. `from` is where its first field starts.
 */
function readFields(text, from, drop, head) {
  let kept = '';
  let named; // the names its Connection field lists, when it has one
  for (let at = from; at < text.length; ) {
    let end = text.indexOf('\r\n', at);
    if (end < 0) end = text.length;
    const colon = text.indexOf(':', at);
    const name = text.slice(at, colon).toLowerCase();
    if (HOP.has(name) || drop.has(name)) {
      const value = text.slice(colon + 1, end).trim();
      if (name === 'connection') named = value.toLowerCase();
      else if (name === 'transfer-encoding') head.chunked = value.toLowerCase().endsWith('chunked');
      else if (name === 'via') head.via = value;
      else if (name === 'x-forwarded-for') head.xff = value;
    } else {
      if (name === 'content-length') head.length = Number(text.slice(colon + 1, end));
      kept += `${text.slice(at, end)}\r\n`;
    }
    at = end + 2;
  }
  head.close = named?.includes('close') === true;
  // A field the Connection header names is hop-by-hop too (rare: searched only when there is one).
  if (named !== undefined && named !== 'close' && named !== 'keep-alive')
    for (const n of named.split(',')) {
      const start = kept.toLowerCase().indexOf(`${n.trim()}:`);
      if (start >= 0) kept = kept.slice(0, start) + kept.slice(kept.indexOf('\r\n', start) + 2);
    }
  return kept;
}

/** A keep-alive connection to an upstream: its handlers set once, the client it serves now in `client`. */
class Upstream {
  constructor(port, client) {
    this.port = port;
    this.client = client;
    this.socket = BATCHED ? connectDirectReads({ port, host: '127.0.0.1' }) : connect(port, '127.0.0.1');
    this.socket.setNoDelay(true);
    this.socket.on('connect', () => this.client?.upstreamReady(this));
    const read = (data) => this.client?.upstreamData(data);
    if (!BATCHED || !takeReads(this.socket, read)) this.socket.on('data', read);
    this.socket.on('end', () => this.client?.upstreamEnd());
    this.socket.on('error', () => this.client?.upstreamFailed(this));
    this.socket.on('close', () => {
      const list = idle[this.port];
      const at = list.indexOf(this);
      if (at >= 0) list.splice(at, 1);
      this.client?.upstreamEnd();
    });
  }
}

/** One client connection and the request it has under way (one at a time: no pipelining ahead). */
class Client {
  constructor(socket) {
    this.socket = socket;
    this.buf = null;
    this.busy = false;
    this.bodyLeft = 0;
    this.up = null;
    this.req = null; // the request: id, method, url, start, close, its head to send
    this.res = null; // the response: status, framing, bytes left, the chunked tail
    this.pending = null; // a response head split across reads
    socket.on('error', () => socket.destroy());
    const read = (data) => this.clientData(data);
    if (!BATCHED || !takeAcceptedReads(socket, read)) socket.on('data', read);
    socket.on('close', () => {
      if (this.up !== null) this.up.socket.destroy();
    });
  }

  clientData(data) {
    this.buf = this.buf !== null && this.buf.length > 0 ? Buffer.concat([this.buf, data]) : data;
    if (this.up !== null && this.bodyLeft > 0) this.sendBody();
    this.next();
    if (this.buf !== null && this.buf.length > 0 && this.buf.buffer === data.buffer) this.buf = own(this.buf);
  }

  next() {
    if (this.busy || this.buf === null) return;
    const end = this.buf.indexOf('\r\n\r\n');
    if (end < 0) return;
    const text = this.buf.latin1Slice(0, end);
    const line = text.indexOf('\r\n');
    const sp1 = text.indexOf(' ');
    const sp2 = text.indexOf(' ', sp1 + 1);
    const method = text.slice(0, sp1);
    const url = text.slice(sp1 + 1, sp2);
    const facts = { chunked: false, close: false, length: 0, via: undefined, xff: undefined };
    const kept = line < 0 ? '' : readFields(text, line + 2, OURS, facts);
    const id = `${ID_PREFIX}${++ids}`;
    const address = this.socket.remoteAddress;
    const head =
      `${method} ${url} HTTP/1.1\r\n${kept}` +
      `via: ${facts.via === undefined ? '' : `${facts.via}, `}1.1 net-proxy\r\n` +
      `x-forwarded-for: ${facts.xff === undefined ? '' : `${facts.xff}, `}${address}\r\n` +
      `x-request-id: ${id}\r\n\r\n`;
    const close = facts.close || text.charCodeAt(line - 1) === 48; // HTTP/1.0
    this.req = { id, method, url, start: performance.now(), close, head, address };
    this.buf = this.buf.subarray(end + 4);
    this.bodyLeft = facts.length;
    this.busy = true;
    const port = isFail(url) ? DEAD : ORIGIN;
    const up = idle[port].pop();
    if (up === undefined) new Upstream(port, this);
    else {
      up.client = this;
      this.upstreamReady(up);
    }
  }

  upstreamReady(up) {
    this.up = up;
    if (BATCHED) hold(up.socket);
    up.socket.write(this.req.head, 'latin1');
    this.sendBody();
  }

  sendBody() {
    const part = this.buf.subarray(0, this.bodyLeft);
    if (part.length > 0) this.up.socket.write(own(part));
    this.bodyLeft -= part.length;
    this.buf = this.buf.subarray(part.length);
  }

  upstreamFailed(up) {
    up.client = null;
    if (this.res !== null) return this.socket.destroy();
    this.socket.write(BAD_GATEWAY, 'latin1');
    this.over(502);
  }

  upstreamData(data) {
    const client = this.socket;
    if (this.res === null) {
      if (this.pending !== null) data = Buffer.concat([this.pending, data]);
      const end = data.indexOf('\r\n\r\n');
      this.pending = end < 0 ? own(data) : null;
      if (end < 0) return;
      this.res = this.responseHead(data.latin1Slice(0, end));
      hold(client);
      client.write(this.res.head, 'latin1');
      data = data.subarray(end + 4);
    } else hold(client);
    const res = this.res;
    if (data.length > 0) client.write(own(data));
    res.left -= data.length;
    if (res.framing === 'chunked')
      res.tail = (res.tail + data.latin1Slice(Math.max(0, data.length - 5))).slice(-5);
    if (res.framing === 'chunked' ? res.tail === '0\r\n\r\n' : res.left <= 0) this.responseOver(true);
    release(client);
  }

  /** The response's head as the client gets it, and its framing. */
  responseHead(text) {
    const line = text.indexOf('\r\n');
    const status = Number(text.slice(9, 12));
    const facts = { chunked: false, close: false, length: -1, via: undefined, xff: undefined };
    const kept = line < 0 ? '' : readFields(text, line + 2, NONE, facts);
    const bodyless = status === 204 || status === 304;
    const framing = facts.chunked ? 'chunked' : facts.length >= 0 || bodyless ? 'length' : 'eof';
    const closing = framing === 'eof' || this.req.close ? 'connection: close\r\n' : '';
    const head =
      `${text.slice(0, line < 0 ? text.length : line)}\r\n${kept}via: 1.1 net-proxy\r\n` +
      `x-request-id: ${this.req.id}\r\n${framing === 'chunked' ? 'transfer-encoding: chunked\r\n' : ''}${closing}\r\n`;
    const left = framing === 'length' ? Math.max(facts.length, 0) : Number.POSITIVE_INFINITY;
    return { status, framing, left, tail: '', reusable: !facts.close && framing !== 'eof', head };
  }

  upstreamEnd() {
    if (this.up === null) return;
    if (this.res === null) return this.upstreamFailed(this.up);
    this.responseOver(this.res.framing === 'eof');
  }

  responseOver(whole) {
    const up = this.up;
    up.client = null;
    if (!whole) {
      up.socket.destroy();
      return this.socket.destroy();
    }
    if (this.res.reusable && !up.socket.destroyed && idle[up.port].length < 256) idle[up.port].push(up);
    else up.socket.destroy();
    this.over(this.res.status);
  }

  over(status) {
    const req = this.req;
    logRecord({
      time: undefined,
      req_id: req.id,
      client: req.address,
      method: req.method,
      path: req.url,
      status,
      total_ms: Math.round((performance.now() - req.start) * 1000) / 1000,
    });
    this.busy = false;
    this.up = null;
    this.res = null;
    this.req = null;
    if (req.close || this.bodyLeft > 0) return void this.socket.end();
    this.next();
  }
}

const accept = (socket) => new Client(socket);
if (!BATCHED) createServer({ noDelay: true }, accept).listen(PORT, '127.0.0.1');
else
  for (let i = 0; i < 8; i++)
    createServer({ noDelay: true }, accept).listen({ port: PORT, host: '127.0.0.1', reusePort: true });
