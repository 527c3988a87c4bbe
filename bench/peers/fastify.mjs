// Fastify with @fastify/http-proxy (undici underneath), its logger as the access log.
import proxy from '@fastify/http-proxy';
import Fastify from 'fastify';
import { accessLog, dead, origin, port } from './env.mjs';

const app = Fastify({ loggerInstance: accessLog, disableRequestLogging: true, bodyLimit: 2 * 1024 * 1024 });
app.addHook('onResponse', (req, reply, done) => {
  req.log.info({ method: req.method, url: req.url, status: reply.statusCode, ms: reply.elapsedTime });
  done();
});
const undici = { connections: 256, pipelining: 1, keepAliveTimeout: 30_000 };
await app.register(proxy, { upstream: dead, prefix: '/fail', rewritePrefix: '/fail', undici });
await app.register(proxy, { upstream: origin, undici });
await app.listen({ port, host: '127.0.0.1' });
