// The raw node:net ceiling: a Node proxy without node:http, as lean as one can be and still do
// what Candor must. Keep-alive both sides; heads found with indexOf and split; hop-by-hop fields
// out (and those Connection names); Via and a request id in; each response's head and first
// bytes corked into one write; one JSON log line per request kept in memory, written every 50 ms
// (line-log.mjs). Content-Length request bodies (streamed on); Content-Length, chunked (no
// trailers) and close-delimited responses. No regular expression runs per request.
import { randomBytes } from 'node:crypto';
import { connect, createServer } from 'node:net';
import { logLine } from './line-log.mjs';

const [PORT, ORIGIN, DEAD] = ['PORT', 'ORIGIN_PORT', 'DEAD_PORT'].map((k) => Number(process.env[k]));
const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'transfer-encoding', 'upgrade']);
const FRAMING = { chunked: 'transfer-encoding: chunked\r\n', eof: 'connection: close\r\n', length: '' };
const BAD_GATEWAY = 'HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n';
const idle = { [ORIGIN]: [], [DEAD]: [] };
const ID_PREFIX = `${randomBytes(6).toString('hex')}-`; // unique across processes, a counter within one
let ids = 0;
const isFail = (url) => url === '/fail' || url.startsWith('/fail/') || url.startsWith('/fail?');

/** A head's first line, and its fields as lines with their lowercase names; the hop-by-hop ones named. */
function parseHead(text) {
  const lines = text.split('\r\n');
  const head = { first: lines[0], names: [], lines, get: Object.create(null) };
  for (let i = 1; i < lines.length; i++) {
    const colon = lines[i].indexOf(':');
    const name = lines[i].slice(0, colon).toLowerCase();
    head.names.push(name);
    if (head.get[name] === undefined) head.get[name] = lines[i].slice(colon + 1).trim();
  }
  return head;
}
/** The head's field lines to pass on: no hop-by-hop field, none its Connection names, none in `drop`. */
function kept(head, drop, extra) {
  const named =
    head.get.connection
      ?.toLowerCase()
      .split(',')
      .map((n) => n.trim()) ?? [];
  let out = '';
  for (let i = 0; i < head.names.length; i++) {
    const n = head.names[i];
    if (!HOP.has(n) && !drop.has(n) && (named.length === 0 || !named.includes(n)))
      out += `${head.lines[i + 1]}\r\n`;
  }
  return `${out}${extra}\r\n`;
}
const has = (value, token) => value?.toLowerCase().includes(token) === true;
const NONE = new Set();
const OURS = new Set(['via', 'x-request-id']);

/** Relays one response from `up` to `client`; done(status, reusable) at its end. */
function relayResponse(up, client, id, close, done) {
  let r; // the response head, its framing, the bytes left and the last five seen
  let pending = null; // a head split across reads
  const onData = (data) => {
    if (r === undefined) {
      if (pending !== null) data = Buffer.concat([pending, data]);
      const end = data.indexOf('\r\n\r\n');
      pending = end < 0 ? data : null;
      if (end < 0) return;
      r = parseHead(data.latin1Slice(0, end));
      r.status = Number(r.first.slice(r.first.indexOf(' ') + 1, r.first.indexOf(' ') + 4));
      const length = r.get['content-length'] ?? (r.status === 204 || r.status === 304 ? '0' : '');
      r.framing = has(r.get['transfer-encoding'], 'chunked') ? 'chunked' : length ? 'length' : 'eof';
      r.left = r.framing === 'length' ? Number(length) : Number.POSITIVE_INFINITY;
      r.tail = '';
      const closing = close && r.framing !== 'eof' ? 'connection: close\r\n' : '';
      const extra = `via: 1.1 net-proxy\r\nx-request-id: ${id}\r\n${FRAMING[r.framing]}${closing}`;
      client.cork();
      client.write(`${r.first}\r\n${kept(r, NONE, extra)}`, 'latin1');
      data = data.subarray(end + 4);
    }
    if (data.length > 0) client.write(data);
    r.left -= data.length;
    if (r.framing === 'chunked') r.tail = (r.tail + data.latin1Slice(Math.max(0, data.length - 5))).slice(-5);
    if (r.framing === 'chunked' ? r.tail === '0\r\n\r\n' : r.left <= 0) finish(true);
    client.uncork();
  };
  const finish = (whole) => {
    up.off('data', onData).off('end', onEnd);
    if (!whole) return client.destroy();
    done(r.status, !has(r.get.connection, 'close') && r.framing !== 'eof');
  };
  const onEnd = () => finish(r?.framing === 'eof');
  up.on('data', onData).on('end', onEnd);
}
function upstream(target, ready, fail) {
  if (idle[target].length > 0) return ready(idle[target].pop());
  const up = connect(target, '127.0.0.1', () => ready(up.off('error', fail).on('error', () => {})));
  up.setNoDelay(true).once('error', fail);
  up.on('close', () => idle[target].includes(up) && idle[target].splice(idle[target].indexOf(up), 1));
}
createServer({ noDelay: true }, (client) => {
  const c = { buf: null, busy: false, bodyLeft: 0, up: null };
  const sendBody = () => {
    const part = c.buf.subarray(0, c.bodyLeft);
    if (part.length > 0) c.up.write(part);
    [c.bodyLeft, c.buf] = [c.bodyLeft - part.length, c.buf.subarray(part.length)];
  };
  const next = () => {
    const end = c.busy || c.buf === null ? -1 : c.buf.indexOf('\r\n\r\n');
    if (end < 0) return;
    const head = parseHead(c.buf.latin1Slice(0, end));
    const [method, url, version] = head.first.split(' ');
    const [start, id, target] = [performance.now(), `${ID_PREFIX}${++ids}`, isFail(url) ? DEAD : ORIGIN];
    const close = has(head.get.connection, 'close') || version === 'HTTP/1.0';
    [c.buf, c.bodyLeft, c.busy] = [c.buf.subarray(end + 4), Number(head.get['content-length'] ?? 0), true];
    const over = (status) => {
      const ms = Math.round((performance.now() - start) * 1000) / 1000;
      logLine(
        `"req_id":"${id}","client":"${client.remoteAddress}","method":"${method}","path":${JSON.stringify(url)},"status":${status},"total_ms":${ms}`,
      );
      [c.busy, c.up] = [false, null];
      if (close || c.bodyLeft > 0) client.end();
      else next();
    };
    const onUpstream = (up) => {
      const via = `via: ${head.get.via ? `${head.get.via}, ` : ''}1.1 net-proxy\r\nx-request-id: ${id}\r\n`;
      up.write(`${method} ${url} HTTP/1.1\r\n${kept(head, OURS, via)}`, 'latin1');
      c.up = up;
      sendBody();
      relayResponse(up, client, id, close, (status, reusable) => {
        if (reusable && idle[target].length < 256) idle[target].push(up);
        else up.destroy();
        over(status);
      });
    };
    upstream(target, onUpstream, () => over(502, client.write(BAD_GATEWAY)));
  };
  client.on('error', () => client.destroy());
  client.on('data', (data) => {
    c.buf = c.buf !== null && c.buf.length > 0 ? Buffer.concat([c.buf, data]) : data;
    if (c.up !== null && c.bodyLeft > 0) sendBody();
    next();
  });
}).listen(PORT, '127.0.0.1');
