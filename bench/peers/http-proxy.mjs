// http-proxy (node-http-proxy) with a keep-alive agent to the origin.
import { Agent, createServer } from 'node:http';
import httpProxy from 'http-proxy';
import { dead, isFail, logWhenDone, origin, port } from './env.mjs';

const agent = new Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 256 });
const proxy = httpProxy.createProxyServer({ agent });
proxy.on('error', (_err, _req, res) => {
  if (!res.headersSent) res.writeHead(502, { 'content-length': 0 });
  res.end();
});

createServer((req, res) => {
  logWhenDone(req, res);
  proxy.web(req, res, { target: isFail(req.url) ? dead : origin });
}).listen(port, '127.0.0.1');
