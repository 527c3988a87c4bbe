// What every Node peer reads from its environment, set by bench/node-peers.ts.
import pino from 'pino';

export const port = Number(process.env.PORT);
export const origin = `http://127.0.0.1:${process.env.ORIGIN_PORT}`;
export const dead = `http://127.0.0.1:${process.env.DEAD_PORT}`;

/** Access logging is on for every system in the benchmark: one JSON line per request. */
export const accessLog = pino(pino.destination({ dest: process.env.ACCESS_LOG, sync: false }));

/** True when the request goes to the failing upstream (the refused port). */
export function isFail(url) {
  return url === '/fail' || url.startsWith('/fail/') || url.startsWith('/fail?');
}

/** Logs one line when the response is done, whatever happened. */
export function logWhenDone(req, res) {
  const start = performance.now();
  res.on('close', () => {
    accessLog.info({
      method: req.method,
      url: req.url,
      status: res.statusCode,
      ms: performance.now() - start,
    });
  });
}
