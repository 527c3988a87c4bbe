import assert from 'node:assert/strict';
import { test } from 'node:test';
import { negotiateErrorFormat } from '../../../src/core/failure/negotiate.ts';
import { rawRequest } from '../../helpers/http-client.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

test('browsers get HTML, API clients problem+json, everyone else plain text', () => {
  const cases: [string | undefined, string][] = [
    [undefined, 'text'],
    ['*/*', 'text'],
    ['text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8', 'html'],
    ['application/json', 'problem+json'],
    ['application/problem+json', 'problem+json'],
    ['application/*', 'problem+json'],
    ['application/json;q=0.5, text/html', 'html'],
    ['text/html;q=0.1, application/json;q=0.9', 'problem+json'],
    ['text/plain', 'text'],
    ['text/*', 'text'],
    ['image/png', 'text'],
    ['application/json;q=0', 'text'],
    ['TEXT/HTML', 'html'],
    ['text/html, application/json', 'problem+json'],
    // XHTML's media type is application/xhtml+xml (it was listed as text/xhtml+xml).
    ['application/xhtml+xml', 'html'],
    ['application/xhtml+xml;q=0.9, application/json;q=0.5', 'html'],
    ['text/xhtml+xml', 'text'],
    // Each media type of a format is weighed alone: the alias's lower q did not stand for the format.
    ['application/problem+json, text/html;q=0.9, application/json;q=0.5', 'problem+json'],
    ['text/html, application/xhtml+xml;q=0.1, text/plain;q=0.5', 'html'],
    ['application/json;q=0.5, application/problem+json', 'problem+json'],
    ['application/json, application/problem+json;q=0', 'text'],
    // An API client's library names JSON beside plain text at the same q (axios and Angular's
    // HttpClient send this by default): it reads JSON, and plain text is for clients that named
    // no better; so is HTML for a client that names it beside text/plain.
    ['application/json, text/plain, */*', 'problem+json'],
    ['text/plain, application/json', 'problem+json'],
    ['text/plain, text/html', 'html'],
    ['text/plain, */*', 'text'],
  ];
  for (const [accept, expected] of cases)
    assert.equal(negotiateErrorFormat(accept), expected, String(accept));
});

test("an API library's default Accept (axios, Angular) gets problem+json from a real gateway", async () => {
  const gw = await startTestGateway(`name: edge-1
routes:
  - { match: { path: /api }, upstream: app }
upstreams:
  app: { targets: [{ url: http://127.0.0.1:1 }] }
`);
  try {
    const { raw } = await rawRequest(
      gw.port,
      'GET /nowhere HTTP/1.1\r\nHost: gw.test\r\nAccept: application/json, text/plain, */*\r\nConnection: close\r\n\r\n',
    );
    assert.match(raw, /^HTTP\/1\.1 404 /);
    assert.match(raw, /\r\ncontent-type: application\/problem\+json\r\n/);
    assert.equal(JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4)).error, 'destination_not_found');
  } finally {
    await gw.close();
  }
});

test("a client's Accept of a long run of spaces costs the gateway time in proportion to it", {
  timeout: 30_000,
}, async () => {
  // Each media range and q-value was trimmed by `[ \t]+$`, tried from every space of a run a
  // letter ends: 32 KiB (the default head bound) held the worker's loop ~8 s on any error the
  // gateway answered (a 404 needs no upstream), 256 KiB here minutes. Now a few milliseconds.
  const gw = await startTestGateway(`name: edge-1
limits: { header_size: 1MiB }
routes:
  - { match: { path: /api }, upstream: app }
upstreams:
  app: { targets: [{ url: http://127.0.0.1:1 }] }
`);
  try {
    const spaces = ' '.repeat(256 * 1024);
    const { raw } = await rawRequest(
      gw.port,
      `GET /nowhere HTTP/1.1\r\nHost: gw.test\r\nAccept: text/html${spaces}x, application/json;q=0.5${spaces}\r\nConnection: close\r\n\r\n`,
      20_000,
    );
    assert.match(raw, /^HTTP\/1\.1 404 /);
    assert.match(raw, /\r\ncontent-type: application\/problem\+json\r\n/);
  } finally {
    await gw.close();
  }
});

test('a q that is not a qvalue refuses its media range, as it refuses a content coding', () => {
  // RFC 9110 §12.4.2: 0 to 1, at most three decimals. Each was read as 1 (`q=2` clamped,
  // `q=abc` defaulted, `q=0x1` read by Number()), so problem+json won its tie with HTML.
  for (const q of ['2', '1.5', '0x1', 'abc', '1.0001', '', '-1'])
    assert.equal(negotiateErrorFormat(`application/problem+json;q=${q}, text/html`), 'html', q);
  assert.equal(negotiateErrorFormat('application/problem+json;q=1.000, text/html;q=0.999'), 'problem+json');
  assert.equal(negotiateErrorFormat('text/html;q=1.'), 'html');
  assert.equal(negotiateErrorFormat('text/html;q=2'), 'text');
});

test("a gateway's 502 to an Accept whose problem+json has q=2 is the HTML page", async () => {
  const gw = await startTestGateway(`name: edge-1
routes:
  - { match: { path: /api }, upstream: app }
upstreams:
  app: { targets: [{ url: http://127.0.0.1:1 }] }
`);
  try {
    const { raw } = await rawRequest(
      gw.port,
      'GET /api HTTP/1.1\r\nHost: gw.test\r\nAccept: application/problem+json;q=2, text/html\r\nConnection: close\r\n\r\n',
    );
    assert.match(raw, /^HTTP\/1\.1 502 /);
    assert.match(raw, /\r\ncontent-type: text\/html; charset=utf-8\r\n/);
  } finally {
    await gw.close();
  }
});

test("a media range's quoted parameter may hold commas and semicolons: its q is the range's own", () => {
  // RFC 9110 §5.6.6: a parameter's value may be a quoted-string, and §12.5.1's ranges are split on
  // the commas outside one. Split on every comma, `text/html;a="x,y";q=0` lost its q=0 (HTML was
  // sent, refused), and `text/html;a="b;q=0"` read a q=0 out of the quoted value (HTML, asked at 1,
  // lost to JSON at 0.5).
  const cases: [string, string][] = [
    ['text/html;foo="a,b";q=0, application/json;q=0.5', 'problem+json'],
    ['text/html;foo="a;q=0", application/json;q=0.5', 'html'],
    ['text/html;q=0;foo="x,y", application/json;q=0.5', 'problem+json'],
    ['application/json;q=0.5, text/html;v="1,text/plain";q=0.4', 'problem+json'],
    ['text/html;v="a\\"b,c";q=0, application/json;q=0.1', 'problem+json'],
    // A quote never closed holds the rest of the field: what follows it is not read as ranges.
    ['application/json;q=0.1, text/html;v="x, application/problem+json', 'html'],
  ];
  for (const [accept, expected] of cases) assert.equal(negotiateErrorFormat(accept), expected, accept);
});

test("a gateway's 404 to an Accept refusing HTML behind a quoted comma is not the HTML page", async () => {
  const gw = await startTestGateway(`name: edge-1
routes:
  - { match: { path: /api }, upstream: app }
upstreams:
  app: { targets: [{ url: http://127.0.0.1:1 }] }
`);
  try {
    const { raw } = await rawRequest(
      gw.port,
      'GET /nowhere HTTP/1.1\r\nHost: gw.test\r\nAccept: text/html;profile="a,b";q=0, application/json;q=0.5\r\nConnection: close\r\n\r\n',
    );
    assert.match(raw, /^HTTP\/1\.1 404 /);
    assert.match(raw, /\r\ncontent-type: application\/problem\+json\r\n/);
  } finally {
    await gw.close();
  }
});
