/**
 * The gateway's own error answer fed hostile text: an upstream's bad header name that is an
 * `<img onerror>`, a client's path holding markup and quotes. The HTML page quotes them as text
 * (and, rendered in a real Chromium, runs nothing and makes no element of them), says to the
 * browser that it runs no script and loads nothing (a Content-Security-Policy: the page is
 * self-contained, and a flaw in its escaping would then still run nothing), and not to guess its
 * type; problem+json is JSON whose members hold the text as sent; Proxy-Status is an RFC 8941
 * sf-string of printable ASCII.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { startRawFault } from '../../../src/kits/fault-kit/raw-server.ts';
import { launchChromium, noChromium } from '../../helpers/chromium.ts';
import { rawRequest } from '../../helpers/http-client.ts';
import { closeAfterAll } from '../../helpers/keep.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

const keep = closeAfterAll();
/** Sets window.__xss when it runs as an image's error handler. */
const NAME = '<img/src=x/onerror=__xss=1>';
const PATH = '/<img/src=x/onerror=__xss=2>?q="\'`';

async function gateway() {
  const upstream = await keep(
    startRawFault(async (c) => {
      for (;;) {
        await c.nextRequest();
        await c.end(`HTTP/1.1 200 OK\r\n${NAME}: v\r\ncontent-length: 0\r\n\r\n`);
      }
    }),
  );
  return keep(
    startTestGateway(`name: edge-1
routes:
  - upstream: app
upstreams:
  app:
    targets: [{ url: "${upstream.url}" }]
    retries: { attempts: 1 }
`),
  );
}

const ask = (port: number, accept: string) =>
  rawRequest(
    port,
    `GET ${PATH} HTTP/1.1\r\nHost: localhost\r\nAccept: ${accept}\r\nConnection: close\r\n\r\n`,
  );

function split(raw: string): { head: Record<string, string>; body: string } {
  const [head, body] = [raw.slice(0, raw.indexOf('\r\n\r\n')), raw.slice(raw.indexOf('\r\n\r\n') + 4)];
  const fields = Object.fromEntries(
    head
      .split('\r\n')
      .slice(1)
      .map((line) => [
        line.slice(0, line.indexOf(':')).toLowerCase(),
        line.slice(line.indexOf(':') + 1).trim(),
      ]),
  );
  return { head: fields, body };
}

const DETAILS = `invalid header name "${NAME}"`;

test("the HTML page quotes an upstream's markup as text, and tells the browser it runs no script and loads nothing", async () => {
  const gw = await gateway();
  const res = await ask(gw.port, 'text/html');
  assert.equal(res.status, 502);
  const { head, body } = split(res.raw);
  assert.equal(head['content-type'], 'text/html; charset=utf-8');
  assert.equal(head['x-content-type-options'], 'nosniff');
  assert.equal(
    head['content-security-policy'],
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'",
  );
  assert.ok(body.includes('(invalid header name &quot;&lt;img/src=x/onerror=__xss=1&gt;&quot;)'), body);
  assert.ok(!body.includes('<img'), 'no markup of the upstream is markup here');
  assert.equal(
    head['proxy-status'],
    `edge-1; error=http_protocol_error; details="${DETAILS.replaceAll('"', '\\"')}"; next-hop="app"`,
  );
});

test('problem+json holds the same text as sent, in JSON a reader parses; text/plain says it as it is', async () => {
  const gw = await gateway();
  const json = split((await ask(gw.port, 'application/json')).raw);
  assert.equal(json.head['content-type'], 'application/problem+json');
  assert.equal(json.head['content-security-policy'], undefined, 'no page: nothing to hold to a policy');
  assert.equal(JSON.parse(json.body).details, DETAILS);
  assert.doesNotMatch(json.body.trimEnd(), /[\x00-\x1f]/, 'no raw control character');
  const plain = split((await ask(gw.port, 'text/plain')).raw);
  assert.equal(plain.head['content-type'], 'text/plain; charset=utf-8');
  assert.equal(plain.head['x-content-type-options'], 'nosniff');
  assert.ok(plain.body.includes(`(${DETAILS})`), plain.body);
});

test('rendered in Chromium, the error page runs nothing of the text it quotes', {
  timeout: 60_000,
  skip: noChromium,
}, async () => {
  const gw = await gateway();
  const dir = tempDir('candor-error-page-');
  const browser = await launchChromium(join(dir, 'profile'));
  try {
    const page = browser.pages()[0] ?? (await browser.newPage());
    const violations: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy/.test(m.text())) violations.push(m.text());
    });
    const res = await page.goto(`${gw.url}${PATH}`);
    assert.equal(res?.status(), 502);
    assert.match(
      (await page.locator('main p').first().textContent()) ?? '',
      /invalid header name "<img\/src=x\/onerror=__xss=1>"/,
    );
    await page.waitForTimeout(300);
    assert.equal(await page.evaluate('window.__xss'), undefined);
    assert.equal(await page.locator('img').count(), 0);
    assert.deepEqual(violations, [], 'its own style keeps to the policy');
  } finally {
    await browser.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
