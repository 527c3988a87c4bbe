// The raw node:net ceiling: a Node proxy without node:http. Keep-alive both sides, hop-by-hop
// fields out, Via and a request id in, one JSON log line per request. Content-Length request
// bodies (streamed on); Content-Length, chunked (no trailers) and close-delimited responses.
import { connect, createServer } from 'node:net';
import { accessLog, isFail, port } from './env.mjs';

const [ORIGIN, DEAD] = [Number(process.env.ORIGIN_PORT), Number(process.env.DEAD_PORT)];
const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'transfer-encoding', 'upgrade']);
const FRAMING = { chunked: 'transfer-encoding: chunked\r\n', eof: 'connection: close\r\n', length: '' };
const idle = { [ORIGIN]: [], [DEAD]: [] };
const BAD_GATEWAY = 'HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n';
let ids = 0;
function parseHead(text) {
  const [first, ...lines] = text.split('\r\n');
  const fields = lines.map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()]);
  return { first, fields, get: (n) => fields.find(([k]) => k.toLowerCase() === n)?.[1] ?? '' };
}
/** The head's fields as lines, without hop-by-hop ones, those Connection names, and `drop`. */
function rewrite(head, drop, extra) {
  const named = head.get('connection').toLowerCase().split(',');
  const kept = (n) => !HOP.has(n) && !named.includes(n) && !drop.test(n);
  const lines = head.fields.filter(([k]) => kept(k.toLowerCase())).map(([k, v]) => `${k}: ${v}\r\n`);
  return `${lines.join('')}${extra}\r\n`;
}
/** Relays one response from `up` to `client`; done(status, reusable) at its end. */
function relayResponse(up, client, id, close, done) {
  let r; // the response head, its framing, the bytes left and the last five seen
  const onData = (data) => {
    if (r === undefined) {
      const end = data.indexOf('\r\n\r\n'); // a head split across reads is not handled: nginx sends it whole
      r = parseHead(data.toString('latin1', 0, end));
      [r.status, r.tail] = [Number(r.first.split(' ')[1]), ''];
      const length = r.get('content-length') || ([204, 304].includes(r.status) ? '0' : '');
      r.framing = /chunked/i.test(r.get('transfer-encoding')) ? 'chunked' : length ? 'length' : 'eof';
      const closing = close && r.framing !== 'eof' ? 'connection: close\r\n' : '';
      r.left = r.framing === 'length' ? Number(length) : Infinity;
      const extra = `via: 1.1 net-proxy\r\nx-request-id: ${id}\r\n${FRAMING[r.framing]}${closing}`;
      client.write(`${r.first}\r\n${rewrite(r, /^$/, extra)}`, 'latin1');
      data = data.subarray(end + 4);
    }
    if (data.length > 0) client.write(data);
    r.left -= data.length;
    r.tail = (r.tail + data.toString('latin1', Math.max(0, data.length - 5))).slice(-5);
    if (r.framing === 'chunked' ? r.tail === '0\r\n\r\n' : r.left <= 0) finish(true);
  };
  const finish = (whole) => {
    up.off('data', onData).off('end', onEnd);
    whole ? done(r.status, !/close/i.test(r.get('connection')) && r.framing !== 'eof') : client.destroy();
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
  const c = { buf: Buffer.alloc(0), busy: false, bodyLeft: 0, up: null };
  const sendBody = () => {
    const part = c.buf.subarray(0, c.bodyLeft);
    if (part.length > 0) c.up.write(part);
    [c.bodyLeft, c.buf] = [c.bodyLeft - part.length, c.buf.subarray(part.length)];
  };
  const next = () => {
    const end = c.buf.indexOf('\r\n\r\n');
    if (c.busy || end < 0) return;
    const head = parseHead(c.buf.toString('latin1', 0, end));
    const [method, url, version] = head.first.split(' ');
    const [start, id, target] = [performance.now(), `np-${++ids}`, isFail(url) ? DEAD : ORIGIN];
    const close = /close/i.test(head.get('connection')) || version === 'HTTP/1.0';
    [c.buf, c.bodyLeft, c.busy] = [c.buf.subarray(end + 4), Number(head.get('content-length')), true];
    const over = (status) => {
      accessLog.info({ req_id: id, method, url, status, ms: performance.now() - start });
      [c.busy, c.up] = [false, null];
      if (close || c.bodyLeft > 0) client.end();
      else next();
    };
    const onUpstream = (up) => {
      const via = `via: ${head.get('via') ? `${head.get('via')}, ` : ''}1.1 net-proxy\r\nx-request-id: ${id}\r\n`;
      up.write(`${method} ${url} HTTP/1.1\r\n${rewrite(head, /^(via|x-request-id)$/, via)}`, 'latin1');
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
    c.buf = c.buf.length > 0 ? Buffer.concat([c.buf, data]) : data;
    if (c.up !== null && c.bodyLeft > 0) sendBody();
    next();
  });
}).listen(port, '127.0.0.1');
