import http from 'node:http';
import { freePort } from './wait.ts';

/** A version of an app on loopback for canary tests: it answers 200, resets every Nth request, or answers late. */
export interface CanaryOrigin {
  readonly url: string;
  readonly name: string;
  /** Requests that reached it (reset ones included). */
  received: number;
  /** Every Nth request's connection is reset before any answer (0: none): 20 is 5 %. */
  resetEvery: number;
  /** Every Nth request gets its head and a part of its body, then the connection closes (0: none). */
  cutBodyEvery: number;
  /**
   * Every Nth request gets its head and a part of its body at once, then nothing more: the
   * connection stays open and silent until a side closes it (0: none).
   */
  stallBodyEvery: number;
  /** Each answer waits this long (ms). */
  delayMs: number;
  /** Every Nth answer waits `slowMs` more (0: none): a slow tail, the median untouched. */
  slowEvery: number;
  slowMs: number;
  /**
   * A request carrying this header is answered 500, whichever version (''/absent: none): a
   * request that fails on every version (a bad input), which a client may send at will.
   */
  failOn: string;
  /**
   * Every Nth request but one (N - 1 of N; 0: none) is answered 503 at once, without `delayMs`: a
   * dependency down that this version fails fast on (the error comes before any work was done).
   */
  fastErrorEvery: number;
  close(): Promise<void>;
}

/** Starts one; `name` is in each answer's body (which side answered). */
export async function startCanaryOrigin(name: string): Promise<CanaryOrigin> {
  const server = http.createServer((req, res) => {
    origin.received++;
    if (origin.failOn !== '' && req.headers[origin.failOn] !== undefined) {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(`${name}: bad input`);
      return;
    }
    if (origin.fastErrorEvery > 0 && origin.received % origin.fastErrorEvery !== 0) {
      res.writeHead(503, { 'content-type': 'text/plain' }).end(`${name}: dependency down`);
      return;
    }
    if (origin.resetEvery > 0 && origin.received % origin.resetEvery === 0) {
      req.socket.resetAndDestroy();
      return;
    }
    if (origin.cutBodyEvery > 0 && origin.received % origin.cutBodyEvery === 0) {
      // The head promises 100 bytes; 7 come, then the connection ends (what a crash mid-body does).
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '100' });
      res.write('partial', () => req.socket.destroy());
      return;
    }
    if (origin.stallBodyEvery > 0 && origin.received % origin.stallBodyEvery === 0) {
      // The head promises 100 bytes; 7 come at once, the rest never (a handler stuck mid-body).
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '100' });
      res.write('partial');
      return;
    }
    const answer = () => res.writeHead(200, { 'content-type': 'text/plain' }).end(name);
    const slow = origin.slowEvery > 0 && origin.received % origin.slowEvery === 0 ? origin.slowMs : 0;
    if (origin.delayMs + slow > 0) setTimeout(answer, origin.delayMs + slow);
    else answer();
  });
  server.keepAliveTimeout = 30_000;
  // A canary closed mid-test must stay refused: not a port a listen(0) picked, which another test
  // file's server may be given as soon as this one lets it go.
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const origin: CanaryOrigin = {
    url: `http://127.0.0.1:${port}`,
    name,
    received: 0,
    resetEvery: 0,
    cutBodyEvery: 0,
    stallBodyEvery: 0,
    delayMs: 0,
    slowEvery: 0,
    slowMs: 0,
    failOn: '',
    fastErrorEvery: 0,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return origin;
}

/** What a paced load saw: answers by status, and by which side's body. */
export interface LoadResult {
  sent: number;
  statuses: Record<number, number>;
  bodies: Record<string, number>;
}

/**
 * Sends GET requests at about `perSecond` (a few in flight at once, keep-alive) until `stop()`
 * says so or `max` were sent; resolves when every answer is in. Pacing is best effort on a
 * loaded machine: the tests count requests, never time.
 */
export async function paceLoad(
  url: string,
  perSecond: number,
  stop: (sent: number) => boolean,
  max: number,
  headers: () => Record<string, string> = () => ({}),
): Promise<LoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  const result: LoadResult = { sent: 0, statuses: {}, bodies: {} };
  const inFlight = new Set<Promise<void>>();
  const one = () =>
    new Promise<void>((resolve) => {
      const req = http.get(`${url}/`, { agent, headers: headers() }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          body += c;
        });
        res.on('end', () => {
          result.statuses[res.statusCode ?? 0] = (result.statuses[res.statusCode ?? 0] ?? 0) + 1;
          if (res.statusCode === 200) result.bodies[body] = (result.bodies[body] ?? 0) + 1;
          resolve();
        });
        res.on('error', () => resolve());
      });
      req.on('error', () => {
        result.statuses[0] = (result.statuses[0] ?? 0) + 1;
        resolve();
      });
    });
  const tickMs = 20;
  const perTick = Math.max(1, Math.round((perSecond * tickMs) / 1000));
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      if (stop(result.sent) || result.sent >= max) {
        clearInterval(timer);
        resolve();
        return;
      }
      // At most a bounded number in flight: a slow gateway slows the load, it does not pile it up.
      for (let i = 0; i < perTick && inFlight.size < 64 && result.sent < max; i++) {
        result.sent++;
        const p = one().then(() => {
          inFlight.delete(p);
        });
        inFlight.add(p);
      }
    }, tickMs);
  });
  await Promise.all(inFlight);
  agent.destroy();
  return result;
}

/** What an impatient load saw: requests sent, answers read whole, clients that gave up. */
export interface ImpatientResult {
  sent: number;
  answered: number;
  gaveUp: number;
}

/**
 * GETs at about `perSecond`, each given up (its socket destroyed) after `patienceMs` without the
 * whole answer, until `stop()` says so or `max` were sent: clients that leave a request that
 * hangs, before its head or mid-body. Resolves when every request is over.
 */
export async function impatientLoad(
  url: string,
  perSecond: number,
  patienceMs: number,
  stop: () => boolean,
  max: number,
): Promise<ImpatientResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const seen = { sent: 0, answered: 0, gaveUp: 0 };
  const inFlight = new Set<Promise<void>>();
  const one = () =>
    new Promise<void>((resolve) => {
      const req = http.get(`${url}/`, { agent }, (res) => {
        res.resume();
        res.on('end', () => {
          seen.answered++;
          resolve();
        });
        res.on('error', () => resolve());
      });
      req.setTimeout(patienceMs, () => {
        seen.gaveUp++;
        req.destroy();
      });
      req.on('error', () => resolve());
      req.on('close', () => resolve());
    });
  while (!stop() && seen.sent < max) {
    for (let i = 0; i < Math.max(1, Math.round(perSecond / 50)) && inFlight.size < 64; i++) {
      seen.sent++;
      const p = one().then(() => {
        inFlight.delete(p);
      });
      inFlight.add(p);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await Promise.all(inFlight);
  agent.destroy();
  return seen;
}
