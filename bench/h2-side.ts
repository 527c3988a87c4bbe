/**
 * The HTTP/2 downstream alone: what Candor's HTTP/2 server and sink (src/proxy/accept/h2/) cost a
 * stream, without the session, the upstream or the log. Each side is a server in a process of
 * its own on CPU 0 that answers every stream at once with the same 100-byte answer and the head
 * an upstream's answer has once relayed (its fields, Via, X-Request-Id); h2load on CPU 1 asks
 * it over h2c (one connection, 100 streams at once). What is read is the server process's CPU
 * (user + system) a stream, after a warm-up of half as many:
 *
 * - `candor`: Candor's server and sink (createH2Server), the answer given as the exchange relays
 *   an upstream's (held to the end of the turn, head, body, end); with `--ref DIR`, `ref` is
 *   the same from DIR's src/.
 * - `floor`: node:http2's server doing what bench/peers/h2-contract-floor.ts does downstream:
 *   the head read and checked (h2RequestHead, h2Refusal), the answer's head built (h2Head).
 * - `node`: node:http2's server answering with respond() and end(): the least a stream costs.
 *
 *   node bench/h2-side.ts [--streams 100000] [--rounds 5] [--ref DIR]
 *
 * Rounds alternated, the median (and the spread) printed. Judge a change by its `candor`
 * against `ref` (an A/A, `--ref .`, shows the noise). Writes nothing.
 */
import { execFile } from 'node:child_process';
import http2, { type ServerHttp2Stream } from 'node:http2';
import net from 'node:net';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { DownstreamExchange } from '../src/core/net/downstream.ts';
import { NODE_BIN, REPO_DIR } from './paths.ts';
import { freePorts } from './ports.ts';
import { spread } from './stats.ts';

const PROXY_CPU = '0';
const LOAD_CPU = '1';
const run = promisify(execFile);

const BODY = Buffer.alloc(100, 'x');
/** The head of nginx's answer to /small as the exchange hands it on (buildDownstreamHead's). */
const FIELDS = [
  ...['Server', 'nginx', 'Date', new Date().toUTCString(), 'Content-Type', 'text/plain'],
  ...['Content-Length', '100', 'via', '1.1 bench', 'x-request-id', '338657f3-a6e1-47d6-804d-57a3a1537b0f'],
];
const OPEN = Object.freeze({ endStream: false });
const ignore = (): void => {};

type Side = 'candor' | 'floor' | 'node';

/** One side's server, its modules from `repo`'s src/. */
async function serverOf(side: Side, repo: string): Promise<net.Server> {
  const src = (path: string) => join(repo, 'src', path);
  const { DEFAULTS } = (await import(
    src('core/config/defaults.ts')
  )) as typeof import('../src/core/config/defaults.ts');
  const fields = (await import(
    src('proxy/accept/h2/h2-answer-fields.ts')
  )) as typeof import('../src/proxy/accept/h2/h2-answer-fields.ts');
  if (side === 'candor') {
    const { h2Limits } = (await import(
      src('proxy/accept/h2/h2-limits.ts')
    )) as typeof import('../src/proxy/accept/h2/h2-limits.ts');
    const { createH2Server } = (await import(
      src('proxy/accept/h2/h2-server.ts')
    )) as typeof import('../src/proxy/accept/h2/h2-server.ts');
    const answerAtOnce = (exchange: DownstreamExchange, status: number) => {
      exchange.answer.deferToTurnEnd();
      exchange.answer.sendHead(status, '', status === 200 ? FIELDS : []);
      if (status === 200) exchange.answer.write(BODY);
      exchange.answer.end();
    };
    const h2 = createH2Server(
      h2Limits(DEFAULTS.limits),
      {
        request: (exchange) => answerAtOnce(exchange, 200),
        refused: (exchange) => answerAtOnce(exchange, 400),
        overLimit: (exchange) => answerAtOnce(exchange, 429),
        headerTimeout: () => DEFAULTS.limits.headerTimeout,
      },
      { bound: ignore },
    );
    return net.createServer((socket) => h2.accept(socket));
  }
  const server = http2.createServer();
  if (side === 'node') {
    server.on('stream', (stream: ServerHttp2Stream) => {
      stream.on('error', ignore);
      stream.respond(fields.h2Head(200, FIELDS), OPEN);
      stream.end(BODY);
    });
    return server as unknown as net.Server;
  }
  const { h2Refusal, h2RequestHead } = (await import(
    src('proxy/accept/h2/h2-request.ts')
  )) as typeof import('../src/proxy/accept/h2/h2-request.ts');
  const limits = {
    uriLength: DEFAULTS.limits.uriLength,
    maxHeaderListSize: DEFAULTS.limits.http2.maxHeaderListSize,
    maxHeaderFields: DEFAULTS.limits.http2.maxHeaderFields,
  };
  server.on('stream', (stream: ServerHttp2Stream, _headers: unknown, flags: number, raw: string[]) => {
    stream.on('error', ignore);
    const facts = {
      remoteAddress: '127.0.0.1',
      encrypted: false,
      sni: {},
      clientCertificate: undefined,
    };
    const head = h2RequestHead(
      raw,
      stream.id ?? 0,
      (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0,
      facts,
    );
    if (h2Refusal(raw, head, limits) !== undefined)
      return stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
    stream.respond(fields.h2Head(200, FIELDS), OPEN);
    stream.end(BODY);
  });
  return server as unknown as net.Server;
}

/** In the side's own process: serve, warm up, and print the CPU µs a stream of `streams`. */
async function serve(side: Side, repo: string, port: number, streams: number): Promise<void> {
  const server = await serverOf(side, repo);
  await new Promise<void>((ready) => server.listen(port, '127.0.0.1', ready));
  const load = (count: number) =>
    run('taskset', [
      '-c',
      LOAD_CPU,
      'h2load',
      '-c',
      '1',
      '-m',
      '100',
      '-n',
      String(count),
      `http://127.0.0.1:${port}/`,
    ]);
  await load(Math.ceil(streams / 2));
  const before = process.cpuUsage();
  const { stdout } = await load(streams);
  const used = process.cpuUsage(before);
  const done = Number(/(\d+) succeeded/.exec(stdout)?.[1]);
  process.stdout.write(`${(used.user + used.system) / done}\n`);
  process.exit(0);
}

async function main(argv: readonly string[]): Promise<void> {
  if (argv[0] === '--serve') return serve(argv[1] as Side, argv[2], Number(argv[3]), Number(argv[4]));
  const options = { streams: 100_000, rounds: 5, ref: undefined as string | undefined };
  for (let i = 0; i < argv.length; i += 2) {
    const [name, value] = [argv[i], argv[i + 1]];
    if (name === '--ref' && value !== undefined) options.ref = resolve(value);
    else if (
      (name === '--streams' || name === '--rounds') &&
      Number.isInteger(Number(value)) &&
      Number(value) > 0
    )
      options[name === '--streams' ? 'streams' : 'rounds'] = Number(value);
    else throw new Error('usage: node bench/h2-side.ts [--streams N] [--rounds N] [--ref DIR]');
  }
  const sides: [string, Side, string][] = [
    ['candor', 'candor', REPO_DIR],
    ...(options.ref === undefined ? [] : [['ref', 'candor', options.ref] as [string, Side, string]]),
    ['floor', 'floor', REPO_DIR],
    ['node', 'node', REPO_DIR],
  ];
  const [port] = await freePorts(1);
  const got = new Map<string, number[]>(sides.map(([label]) => [label, []]));
  for (let round = 0; round < options.rounds; round++)
    for (const [label, side, repo] of round % 2 === 0 ? sides : [...sides].reverse()) {
      const args = [
        PROXY_CPU,
        NODE_BIN,
        join(REPO_DIR, 'bench', 'h2-side.ts'),
        '--serve',
        side,
        repo,
        String(port),
      ];
      const { stdout } = await run('taskset', ['-c', ...args, String(options.streams)]);
      got.get(label)?.push(Number(stdout));
    }
  process.stdout.write(
    `\n${options.streams} streams (h2c, 1 connection × 100) a round, ${options.rounds} rounds alternated:\n\n` +
      '| side | CPU µs a stream, median | min–max |\n|---|--:|--:|\n',
  );
  for (const [label] of sides) {
    const { median, min, max } = spread(got.get(label) ?? []);
    process.stdout.write(`| ${label} | ${median.toFixed(2)} | ${min.toFixed(2)}–${max.toFixed(2)} |\n`);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`bench h2-side: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
