/**
 * What the access line alone costs: records shaped as a keep-alive GET's (a new id and trace
 * each, a host and path read off each head, a connection's client, a route's upstream and target)
 * logged through the gateway's logger and writer to /dev/null, in CPU µs a line (process.cpuUsage
 * around a batch, the records made before it). With `--ref=DIR`, another checkout's code
 * (its access-log.ts, logger, record and ids) in the same process, rounds alternated, so drift on
 * a shared machine hits both sides alike; `--ref=.` is an A/A run, the noise to judge by.
 *
 *   node_modules/.bin/node bench/line-cost.ts --ref=/path/to/main --rounds=40
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    ref: { type: 'string' },
    rounds: { type: 'string', default: '40' },
    n: { type: 'string', default: '2000' },
  },
});
const rounds = Number(values.rounds);
const n = Number(values.n);

interface Side {
  readonly name: string;
  /** Logs a batch of n lines: CPU µs a line. */
  run(): number;
}

/** A string as one read off a request is: its own copy, not the literal. */
const fresh = (text: string) => Buffer.from(text, 'latin1').toString('latin1');

async function side(name: string, root: string): Promise<Side> {
  const load = (path: string) => import(`${resolve(root)}/src/${path}`);
  const { logRequest } = await load('observe/log/access-log.ts');
  const { createLogger } = await load('observe/log/logger.ts');
  const { RequestRecord } = await load('observe/log/request-record.ts');
  const { newRequestId } = await load('core/ids/ids.ts');
  const { continueOrStartTrace } = await load('core/ids/traceparent.ts');
  const logger = createLogger({ level: 'info', destination: '/dev/null' }, 'bench');
  // 50 connections' clients; the host a slice of a head, the same one line after line, as the
  // request parser's field-section memo hands it while the heads repeat (field-section-memo.ts).
  const clients = Array.from({ length: 50 }, () => fresh('127.0.0.1'));
  const target = 'http://127.0.0.1:18080';
  const host = fresh('Host: 127.0.0.1:18101').slice(6);
  const record = (i: number) => {
    const r = new RequestRecord(
      newRequestId(),
      continueOrStartTrace(undefined),
      clients[i % 50],
      'GET',
      host,
      fresh('/small'),
    );
    Object.assign(r, { protocol: 'HTTP/1.1', route: '/', upstream: 'origin', target, status: 200 });
    Object.assign(r, {
      bytesIn: 46,
      bytesOut: 100,
      connectMs: 0,
      reusedConnection: true,
      ttfbMs: 0.1 + (i % 37) * 0.013,
    });
    r.tries.push({ target, status: 200, error: undefined, stage: 'body_streaming', ms: 0.2 });
    return r;
  };
  return {
    name,
    run() {
      const records = Array.from({ length: n }, (_, i) => record(i));
      const before = process.cpuUsage();
      for (const r of records) logRequest(logger, r);
      const used = process.cpuUsage(before);
      return (used.user + used.system) / n;
    },
  };
}

const sides = [await side('this', '.')];
if (values.ref !== undefined) sides.push(await side('ref', values.ref));
// A turn between batches: the writer writes each batch out, as the gateway's turns do.
const turn = () => new Promise((done) => setImmediate(done));
const figures: number[][] = sides.map(() => []);
for (let round = -10; round < rounds; round++) {
  for (let k = 0; k < sides.length; k++) {
    const i = (round + k + 10) % sides.length;
    const us = sides[i].run();
    if (round >= 0) figures[i].push(us);
    await turn();
  }
}
console.log(`${n} lines a batch, ${rounds} batches a side, alternated; CPU µs a line`);
console.log('| side | median | best | p25 | p75 |\n|---|--:|--:|--:|--:|');
for (const [i, { name }] of sides.entries()) {
  const sorted = figures[i].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.floor(q * (sorted.length - 1))].toFixed(3);
  console.log(`| ${name} | ${at(0.5)} | ${at(0)} | ${at(0.25)} | ${at(0.75)} |`);
}
