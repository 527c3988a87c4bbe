/**
 * `npm start`: the demo gateway and its upstreams answer as DESIGN.md's failure table says, and
 * its banner gives the status page, /metrics and the admin token, which work.
 */

import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { request } from '../../helpers/http-client.ts';
import { ROOT, run } from '../../helpers/package-tools.ts';
import { killAtExit } from '../../helpers/serve-process.ts';
import { waitUntil } from '../../helpers/wait.ts';

const BIN = join(import.meta.dirname, '../../../bin/candor.js');
let base: string;
let bannerText: string;
let admin: string;
let token: string;
let stop: () => Promise<number | null>;
/** Everything the demo wrote on stderr so far (the banner, then the start line). */
let stderr = '';

before(async () => {
  const child = killAtExit(
    spawn(process.execPath, [BIN, 'serve', '--demo'], {
      env: {
        ...process.env,
        CANDOR_PORT: '0',
        CANDOR_TLS_PORT: '0',
        CANDOR_ADMIN_PORT: '0',
        CANDOR_DEMO_ADMIN_TOKEN: '',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    }),
  );
  const banner = await new Promise<string>((resolve, reject) => {
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
      if (stderr.includes('Ctrl-C')) resolve(stderr);
    });
    child.once('exit', (code) => reject(new Error(`demo exited ${code}: ${stderr}`)));
  });
  bannerText = banner;
  base = /gateway "candor-demo" on (http:\/\/127\.0\.0\.1:\d+)/.exec(banner)?.[1] ?? '';
  const page = /Status page: +(http:\/\/127\.0\.0\.1:\d+)\/ +\(it asks for the admin token: (\S+)\)/.exec(
    banner,
  );
  assert.ok(base && page, banner);
  [, admin, token] = page;
  assert.ok(
    banner.includes(`Metrics:      curl -H 'Authorization: Bearer ${token}' ${admin}/metrics`),
    banner,
  );
  stop = () =>
    new Promise((resolve) => {
      child.once('exit', resolve);
      child.kill('SIGINT');
    });
});

after(async () => {
  assert.equal(await stop(), 0, 'Ctrl-C stops the demo cleanly');
});

const TABLE: [path: string, status: number, error: string | undefined][] = [
  ['/healthy', 200, undefined],
  ['/refused', 502, 'connection_refused'],
  ['/unresolvable', 502, 'dns_error'],
  ['/tls-mismatch', 502, 'tls_protocol_error'],
  ['/slow', 504, 'http_response_timeout'],
  ['/reset', 502, 'connection_terminated'],
  ['/garbage', 502, 'http_protocol_error'],
  ['/badheader', 502, 'http_protocol_error'],
  ['/anything-else', 200, undefined],
];

for (const [path, status, error] of TABLE) {
  test(`demo ${path} answers ${status}${error ? ` ${error}` : ''}`, async () => {
    const res = await request(base, { path, headers: { accept: 'application/json' } });
    assert.equal(res.status, status);
    if (error) {
      assert.match(String(res.headers['proxy-status']), new RegExp(`^candor-demo; error=${error};`));
      assert.equal(JSON.parse(res.text).error, error);
    }
  });
}

test('the banner’s table stays true after repeated requests: a failing route keeps its real failure once its only target is ejected', async () => {
  // The rows the banner prints as "<url>  <status> <error>: ...", for the gateway's own failures.
  const rows = [...bannerText.matchAll(/^ {2}(http:\/\/\S+?)(\/\S*) +(\d{3}) ([a-z]+_[a-z_]+)[: ]/gm)].map(
    ([, , path, status, error]) => ({ path, status: Number(status), error }),
  );
  assert.ok(rows.length >= 6, `the table lists the failing routes: ${JSON.stringify(rows)}`);
  // Past outlier detection's default of 5 failures in a row: the lone target is ejected. The
  // five that eject it go at once (/slow's take 2 s each), the two after them one by one.
  const EJECTING = 5;
  const ASKS = 7;
  const ask = async ({ path, status, error }: (typeof rows)[number], i: number) => {
    const res = await request(base, { path, headers: { accept: 'application/json' } });
    assert.equal(res.status, status, `${path}, request ${i + 1}`);
    assert.equal(JSON.parse(res.text).error, error, `${path}, request ${i + 1}`);
  };
  await Promise.all(
    rows.map(async (row) => {
      await Promise.all(Array.from({ length: EJECTING }, (_, i) => ask(row, i)));
      for (let i = EJECTING; i < ASKS; i++) await ask(row, i);
    }),
  );
});

test('demo /pool answers every request 200 although one of its targets flaps', async () => {
  for (let i = 0; i < 30; i++) {
    const res = await request(base, { path: `/pool/item/${i}` });
    assert.equal(res.status, 200, `request ${i}`);
  }
});

test('demo /compressed answers gzip to a client that accepts it, and as it is to one that does not', async () => {
  const res = await request(base, { path: '/compressed', headers: { 'accept-encoding': 'gzip' } });
  assert.equal(res.status, 200);
  assert.equal(res.headers['content-encoding'], 'gzip');
  assert.equal(res.headers.vary, 'Accept-Encoding');
  assert.equal(res.headers['content-length'], undefined);
  // The healthy app's echo of the request, whole once decoded.
  assert.equal(JSON.parse(gunzipSync(res.body).toString()).method, 'GET');
  const plain = await request(base, { path: '/compressed' });
  assert.equal(plain.status, 200);
  assert.equal(plain.headers['content-encoding'], undefined);
  assert.equal(plain.headers.vary, 'Accept-Encoding');
  assert.equal(JSON.parse(plain.text).method, 'GET');
});

test('the banner lists /compressed with what it shows', () => {
  assert.match(bannerText, /\/compressed +200 from the healthy app, compressed \(curl --compressed\)/);
});

test('demo /truncated sends its 200 and then aborts the transfer', async () => {
  const res = await request(base, { path: '/truncated' });
  assert.equal(res.status, 200);
  assert.equal(res.aborted, true);
});

test("demo /healthy passes the app's own 503 through with received-status", async () => {
  const res = await request(base, { path: '/healthy/?status=503&retry_after=7' });
  assert.equal(res.status, 503);
  assert.equal(res.headers['retry-after'], '7');
  assert.equal(res.headers['proxy-status'], 'candor-demo; received-status=503; next-hop="healthy"');
});

test("the banner's status page and /metrics answer, the data behind the page with the printed token", async () => {
  assert.ok(token.length >= 24, 'a token made for this run');
  const page = await request(admin, { path: '/' });
  assert.equal(page.status, 200);
  assert.match(String(page.headers['content-type']), /^text\/html/);
  assert.match(page.text, /<title>Candor status<\/title>/);
  const auth = { authorization: `Bearer ${token}` };
  assert.equal((await request(admin, { path: '/status' })).status, 401);
  await request(base, { path: '/refused' });
  const metrics = await request(admin, { path: '/metrics', headers: auth });
  assert.equal(metrics.status, 200);
  assert.match(
    metrics.text,
    /candor_responses_total\{route="refused",code="502",origin="gateway",error_type="connection_refused"\} [1-9]/,
  );
  const status = JSON.parse((await request(admin, { path: '/status', headers: auth })).text);
  assert.equal(status.gateway, 'candor-demo');
  assert.equal(status.workers.length, 2, 'the demo runs two workers');
});

test("the banner's HTTPS line: curl --http2 -k …/refused shows the 502 with its Proxy-Status over HTTP/2", async () => {
  const command = /^ {2}curl -i --http2 -k (https:\/\/127\.0\.0\.1:\d+\/refused) /m.exec(bannerText);
  assert.ok(command, bannerText);
  const out = await new Promise<string>((resolve, reject) =>
    execFile(
      'curl',
      ['-sS', '-i', '--http2', '-k', command[1]],
      { timeout: 10_000 },
      (error, stdout, stderr) => (error ? reject(new Error(`${error.message}: ${stderr}`)) : resolve(stdout)),
    ),
  );
  assert.match(out, /^HTTP\/2 502 ?\r\n/);
  assert.match(
    out,
    /\r\nproxy-status: candor-demo; error=connection_refused; details=".+"; next-hop="refused"\r\n/,
  );
});

test('a demo whose port is taken exits 69 and says why', async () => {
  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const port = (blocker.address() as net.AddressInfo).port;
  try {
    const child = killAtExit(
      spawn(process.execPath, [BIN, 'serve', '--demo'], {
        env: { ...process.env, CANDOR_PORT: String(port) },
        stdio: ['ignore', 'ignore', 'pipe'],
      }),
    );
    let stderr = '';
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    const code = await new Promise((resolve) => child.once('exit', resolve));
    assert.equal(code, 69);
    assert.match(stderr, /candor demo: could not start: .*EADDRINUSE.*set CANDOR_PORT/);
  } finally {
    blocker.close();
  }
});

test("the README's quick start shows the demo's start line as the demo writes it", async () => {
  await waitUntil('the start line', () => stderr.includes(' started: pid '), 15_000);
  const readme = readFileSync(join(import.meta.dirname, '../../../README.md'), 'utf8');
  const sample = /\n(candor \S+ started: pid .*)\n/.exec(readme)?.[1];
  assert.ok(sample, "the README shows the demo's start line");
  // The README's "…" stands for what each run makes (a folder, a hash, the addresses).
  const pattern = sample
    .split('…')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/pid \d+/, 'pid \\d+'))
    .join('.*?');
  assert.match(stderr, new RegExp(`^${pattern}`, 'm'));
});

test('past the circuit breaker the README and the banner speak of, /refused answers 503 destination_unavailable naming the last failure', async () => {
  assert.match(
    bannerText,
    /Past 20 failed attempts in a row .* circuit opens:\n {2}503 destination_unavailable/,
  );
  let last: { status: number; text: string; headers: Record<string, unknown> } | undefined;
  for (let i = 0; i < 60 && last?.status !== 503; i++)
    last = await request(base, { path: '/refused', headers: { accept: 'application/json' } });
  assert.equal(last?.status, 503);
  const problem = JSON.parse(last?.text ?? '{}');
  assert.equal(problem.error, 'destination_unavailable');
  assert.match(
    problem.details,
    /^the circuit of "refused" is open after repeated failures \(the last: connection_refused, /,
  );
  assert.match(String(last?.headers['retry-after']), /^\d+$/);
});

test('the config file the start line names runs as it is from another shell: check and diagnose --config find the ports and the admin token the demo runs with', {
  timeout: 120_000,
}, async () => {
  await waitUntil('the start line', () => stderr.includes(' started: pid '), 15_000);
  const file = / config (\S+\/candor-demo\.yaml) sha256:/.exec(stderr)?.[1];
  assert.ok(file, stderr);
  // A shell of its own: none of the variables the demo runs with.
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !/^(CANDOR|DEMO)_/.test(name)),
  );
  const candor = (args: string[]) => run(process.execPath, [BIN, ...args], ROOT, { env, timeout: 60_000 });
  const check = await candor(['check', file]);
  assert.equal(check.code, 0, check.stderr);
  // The upstream the gateway finds an SSH server on, where diagnose looks too.
  const garbage = await candor(['diagnose', '--config', file, 'garbage']);
  assert.equal(garbage.code, 2, `${garbage.stdout}${garbage.stderr}`);
  assert.match(garbage.stdout, /^verdict: garbage \/ http_protocol_error → Candor answers 502$/m);
});
