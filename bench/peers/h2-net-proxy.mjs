// The HTTP/2 ceiling: node:http2's server (TLS with ALPN h2 when TLS_CERT and TLS_KEY are set,
// else h2c) in front of raw node:net keep-alive connections to an HTTP/1.1 origin, one JSON log
// line per request kept in memory and written every 50 ms (line-log.mjs). GET only, Content-Length responses only (the origin's): the least a Node
// gateway does to carry a stream to HTTP/1.1, and what Candor's HTTP/2 side is judged against.
import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import { connect } from 'node:net';
import { logLine } from './line-log.mjs';

const [port, ORIGIN] = [Number(process.env.PORT), Number(process.env.ORIGIN_PORT)];
const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'transfer-encoding', 'upgrade']);
const idle = [];
let ids = 0;

function upstream(ready, fail) {
  if (idle.length > 0) return ready(idle.pop());
  const up = connect(ORIGIN, '127.0.0.1', () => ready(up.off('error', fail).on('error', () => {})));
  up.setNoDelay(true).once('error', fail);
  up.on('close', () => idle.includes(up) && idle.splice(idle.indexOf(up), 1));
}

function relay(up, stream, id, done) {
  let head; // status, fields, bytes left
  const onData = (data) => {
    if (head === undefined) {
      const end = data.indexOf('\r\n\r\n'); // a head split across reads is not handled: nginx sends it whole
      const [first, ...lines] = data.toString('latin1', 0, end).split('\r\n');
      head = {
        status: Number(first.split(' ')[1]),
        left: 0,
        fields: { via: '1.1 h2-net-proxy', 'x-request-id': id },
      };
      for (const line of lines) {
        const name = line.slice(0, line.indexOf(':')).toLowerCase();
        const value = line.slice(line.indexOf(':') + 1).trim();
        if (name === 'content-length') head.left = Number(value);
        if (!HOP.has(name)) head.fields[name] = value;
      }
      head.fields[':status'] = head.status;
      // A client gone meanwhile (h2load closing at the end of its run): the response is read and dropped.
      if (!stream.destroyed) stream.respond(head.fields, { endStream: head.left === 0 });
      data = data.subarray(end + 4);
    }
    head.left -= data.length;
    const open = !stream.destroyed && !stream.writableEnded;
    if (head.left <= 0) {
      up.off('data', onData);
      if (open) stream.end(data);
      done(head.status);
    } else if (data.length > 0 && open) stream.write(data);
  };
  up.on('data', onData);
}

function log(id, method, path, status, start) {
  const ms = Math.round((performance.now() - start) * 1000) / 1000;
  logLine(
    `"req_id":"${id}","method":"${method}","path":${JSON.stringify(path)},"status":${status},"total_ms":${ms}`,
  );
}

const { TLS_CERT, TLS_KEY } = process.env;
const server =
  TLS_CERT && TLS_KEY
    ? http2.createSecureServer({ cert: readFileSync(TLS_CERT), key: readFileSync(TLS_KEY) })
    : http2.createServer();
server.on('stream', (stream, _headers, _flags, raw) => {
  const start = performance.now();
  const id = `hp-${++ids}`;
  stream.on('error', () => {});
  let method = 'GET';
  let path = '/';
  let lines = '';
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i] === ':method') method = raw[i + 1];
    else if (raw[i] === ':path') path = raw[i + 1];
    else if (raw[i] === ':authority') lines += `host: ${raw[i + 1]}\r\n`;
    else if (raw[i][0] !== ':') lines += `${raw[i]}: ${raw[i + 1]}\r\n`;
  }
  upstream(
    (up) => {
      up.write(
        `${method} ${path} HTTP/1.1\r\n${lines}via: 2 h2-net-proxy\r\nx-request-id: ${id}\r\n\r\n`,
        'latin1',
      );
      relay(up, stream, id, (status) => {
        if (idle.length < 256) idle.push(up);
        else up.destroy();
        log(id, method, path, status, start);
      });
    },
    () => {
      if (!stream.destroyed) stream.respond({ ':status': 502 }, { endStream: true });
      log(id, method, path, 502, start);
    },
  );
});
server.listen(port, '127.0.0.1');
