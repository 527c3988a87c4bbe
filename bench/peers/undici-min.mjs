// The "minimal undici proxy": node:http in front of an undici Pool, no framework.
import { createServer } from 'node:http';
import { Pool } from 'undici';
import { dead, isFail, logWhenDone, origin, port } from './env.mjs';

const options = { connections: 256, pipelining: 1, keepAliveTimeout: 30_000 };
const pools = { origin: new Pool(origin, options), dead: new Pool(dead, options) };
const HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

function strip(headers) {
  const out = {};
  for (const [name, value] of Object.entries(headers)) if (!HOP.has(name)) out[name] = value;
  return out;
}

createServer((req, res) => {
  logWhenDone(req, res);
  const headers = strip(req.headers);
  delete headers.host;
  const body = req.method === 'GET' || req.method === 'HEAD' ? null : req;
  const pool = isFail(req.url) ? pools.dead : pools.origin;
  // stream(): undici writes the response body straight into `res`.
  const factory = ({ statusCode, headers }) => {
    res.writeHead(statusCode, strip(headers));
    return res;
  };
  pool.stream({ method: req.method, path: req.url, headers, body }, factory, (err) => {
    if (err === null) return;
    if (!res.headersSent) res.writeHead(502, { 'content-length': 0 }).end();
    else res.destroy();
  });
}).listen(port, '127.0.0.1');
