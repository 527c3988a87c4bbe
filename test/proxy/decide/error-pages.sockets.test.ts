/**
 * errors.pages and errors.detail on real sockets: an operator's HTML template fills its
 * placeholders from the failure record, HTML-escaped; the status and the gateway's headers are
 * the same whatever the template; problem+json gets the operator's extra members; a bad template
 * or JSON file is a config error naming the file and line; `minimal` keeps details and next hop
 * out of the body and Proxy-Status, not out of the log.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ConfigError } from '../../../src/core/config/config-error.ts';
import { parseConfig } from '../../../src/core/config/load.ts';
import { configWarnings } from '../../../src/core/config/warnings.ts';
import { request } from '../../helpers/http-client.ts';
import { closeAfterAll } from '../../helpers/keep.ts';
import { listenOnLoopback } from '../../helpers/loopback-server.ts';
import { startMoodyOrigin } from '../../helpers/moody-origin.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';
import { freePort } from '../../helpers/wait.ts';

const keep = closeAfterAll();
const dir = tempDir('candor-pages-');
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

const TEMPLATE = `<!doctype html><title>{{status}} {{reason}}</title>
<h1>Acme · {{ title }}</h1>
<p>{{explanation}}</p>
<ul><li>type={{type}}</li><li>details={{details}}</li><li>hop={{next_hop}}</li><li>retry={{retry_after}}</li></ul>
<footer>id {{request_id}}</footer>
`;
const LISTEN = 'listen:\n  - address: 127.0.0.1:0\n';
const MESSAGE = '<script>alert("x")</script> & back at 14:00';

function config(url: string, errors: string, listen = ''): string {
  return `${listen}name: edge-1
errors:
${errors}
routes:
  - match: { path: /down }
    upstream: app
    maintenance: { retry_after: 30s, message: '${MESSAGE}' }
  - match: { path: / }
    upstream: app
upstreams:
  app:
    targets:
      - url: ${url}
`;
}

describe('errors.pages', () => {
  const html = file('page.html', TEMPLATE);
  const json = file(
    'extra.json',
    JSON.stringify({ help_url: 'https://status.example.com', team: 'platform' }),
  );

  test('the template is the HTML body, every placeholder escaped; the headers stay the gateway’s', async () => {
    const gw = await keep(
      startTestGateway(config('http://127.0.0.1:9', `  pages: { html: ${html}, json: ${json} }`)),
    );
    const r = await request(gw.url, { path: '/down', headers: { accept: 'text/html' } });
    assert.equal(r.status, 503);
    assert.equal(r.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(r.headers['cache-control'], 'no-store');
    assert.equal(r.headers['retry-after'], '30');
    const id = String(r.headers['x-request-id']);
    assert.match(id, /^[0-9a-f-]{36}$/);
    const escaped = '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; back at 14:00';
    assert.equal(
      r.headers['proxy-status'],
      `edge-1; error=proxy_internal_response; details="${MESSAGE.replaceAll('"', '\\"')}"; next-hop="app"`,
    );
    assert.ok(!r.text.includes('<script>'), r.text);
    assert.ok(
      r.text.startsWith('<!doctype html><title>503 Service Unavailable</title>\n<h1>Acme · '),
      r.text,
    );
    assert.ok(r.text.includes(`<li>details=${escaped}</li>`), r.text);
    assert.ok(r.text.includes('<li>type=proxy_internal_response</li><li>'), r.text);
    assert.ok(r.text.includes('<li>hop=app</li><li>retry=30</li>'), r.text);
    assert.ok(r.text.includes(`<footer>id ${id}</footer>`), r.text);
    assert.ok(r.text.includes('<p>The gateway &quot;edge-1&quot; answered on its own'), r.text);
    assert.equal(r.headers['content-length'], String(Buffer.byteLength(r.text)));
  });

  test('problem+json gets the extra members beside the gateway’s own', async () => {
    const gw = await keep(startTestGateway(config('http://127.0.0.1:9', `  pages: { json: ${json} }`)));
    const r = await request(gw.url, { path: '/down', headers: { accept: 'application/json' } });
    assert.equal(r.status, 503);
    const problem = JSON.parse(r.text);
    assert.equal(problem.help_url, 'https://status.example.com');
    assert.equal(problem.team, 'platform');
    assert.equal(problem.status, 503);
    assert.equal(problem.error, 'proxy_internal_response');
    assert.equal(problem.request_id, r.headers['x-request-id']);
  });

  test('an unknown placeholder is a config error naming the template and its line', () => {
    const bad = file('bad.html', '<p>fine</p>\n<p>{{status}} {{stack_trace}}</p>\n');
    assert.throws(
      () => parseConfig(config('http://127.0.0.1:9', `  pages: { html: ${bad} }`), '<test>', {}),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        const problem = err.problems.find((p) => p.path === 'errors.pages.html');
        assert.ok(problem, JSON.stringify(err.problems));
        assert.match(
          problem.message,
          new RegExp(`^"${bad}" line 2: unknown placeholder \\{\\{stack_trace\\}\\}`),
        );
        assert.equal(problem.line, 3);
        return true;
      },
    );
  });

  test('a placeholder spelled with a hyphen, a dot or a digit is unknown too, not left in the page as it is', () => {
    // {{next-hop}} as Proxy-Status spells it, {{request.id}}: they passed the load and were sent as written.
    for (const [i, spelled] of ['{{next-hop}}', '{{ request.id }}', '{{status2}}'].entries()) {
      const bad = file(`spelled-${i}.html`, `<p>{{status}}</p>\n<p>${spelled}</p>\n`);
      assert.throws(
        () => parseConfig(config('http://127.0.0.1:9', `  pages: { html: ${bad} }`), '<test>', {}),
        (err: unknown) => {
          assert.ok(err instanceof ConfigError);
          const problem = err.problems.find((p) => p.path === 'errors.pages.html');
          const name = spelled.replaceAll(' ', '');
          assert.ok(
            problem?.message.startsWith(`"${bad}" line 2: unknown placeholder ${name};`),
            problem?.message,
          );
          return true;
        },
      );
    }
  });

  test("Handlebars' and Mustache's own tags (unescaped output, sections, partials, comments) are config errors, not text left in the page", () => {
    // A page ported from another template engine: each passed the check and reached clients as written.
    const tags = [
      '{{{details}}}',
      '{{& details}}',
      '{{#retry_after}}',
      '{{/retry_after}}',
      '{{> footer}}',
      '{{! note }}',
    ];
    for (const [i, tag] of tags.entries()) {
      const ported = file(`ported-${i}.html`, `<p>{{request_id}}</p>\n<p>{{status}} ${tag}</p>\n`);
      assert.throws(
        () => parseConfig(config('http://127.0.0.1:9', `  pages: { html: ${ported} }`), '<test>', {}),
        (err: unknown) => {
          assert.ok(err instanceof ConfigError);
          assert.deepEqual(
            err.problems.filter((p) => p.path === 'errors.pages.html').map((p) => p.message),
            [
              `"${ported}" line 2: ${tag} is another template engine's tag; a page here has only {{name}} placeholders, each HTML-escaped, and no sections, partials or comments`,
            ],
          );
          return true;
        },
      );
    }
  });

  test('a JSON file that is not an object, or names a gateway member, is a config error', () => {
    for (const [text, expected] of [
      ['[1]', /must hold one JSON object/],
      ['{"status": 200}', /names "status", which the gateway writes itself/],
      ['{nope', /is not valid JSON/],
    ] as const) {
      const path = file('members.json', text);
      assert.throws(
        () => parseConfig(config('http://127.0.0.1:9', `  pages: { json: ${path} }`), '<test>', {}),
        (err: unknown) =>
          err instanceof ConfigError &&
          err.problems.some((p) => p.path === 'errors.pages.json' && expected.test(p.message)),
      );
    }
  });

  test('a page file not in UTF-8 (a Latin-1 "Café") is a config error naming its line: it went out as charset=utf-8, each such byte a U+FFFD', () => {
    const latin1 = join(dir, 'latin1.html');
    writeFileSync(latin1, Buffer.from('<p>{{request_id}}</p>\n<h1>Caf\xe9 Acme</h1>\n', 'latin1'));
    const members = join(dir, 'latin1.json');
    writeFileSync(members, Buffer.from('{"team": "Caf\xe9"}', 'latin1'));
    assert.throws(
      () =>
        parseConfig(
          config('http://127.0.0.1:9', `  pages: { html: ${latin1}, json: ${members} }`),
          '<test>',
          {},
        ),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.deepEqual(
          err.problems.filter((p) => p.path.startsWith('errors.')).map((p) => `${p.path}: ${p.message}`),
          [
            `errors.pages.html: "${latin1}" line 2 is not UTF-8 (byte 0xe9), which its answers say they are (charset=utf-8); save it as UTF-8`,
            `errors.pages.json: "${members}" line 1 is not UTF-8 (byte 0xe9), as JSON must be (RFC 8259 §8.1); save it as UTF-8`,
          ],
        );
        return true;
      },
    );
  });

  test('a page file that starts with a UTF-8 byte order mark (as Windows editors save) loads, the mark left out of every body', async () => {
    const BOM = '\ufeff';
    const html = file('bom.html', `${BOM}<!doctype html><p>{{status}} {{request_id}}</p>`);
    const json = file('bom.json', `${BOM}{"help_url": "https://status.example.com"}`);
    const gw = await keep(
      startTestGateway(config('http://127.0.0.1:9', `  pages: { html: ${html}, json: ${json} }`)),
    );
    const page = await request(gw.url, { path: '/down', headers: { accept: 'text/html' } });
    assert.equal(page.status, 503);
    assert.ok(page.text.startsWith('<!doctype html><p>503 '), JSON.stringify(page.text.slice(0, 20)));
    assert.equal(page.headers['content-length'], String(Buffer.byteLength(page.text)));
    const problem = await request(gw.url, { path: '/down', headers: { accept: 'application/json' } });
    assert.equal(JSON.parse(problem.text).help_url, 'https://status.example.com');
  });

  test('a page file past 1 MiB is a config error (it was read whole, and sent with every failure)', () => {
    const big = file('big.html', `<p>{{request_id}}</p>${' '.repeat(1024 * 1024)}`);
    const members = file('big.json', JSON.stringify({ blob: 'x'.repeat(1024 * 1024) }));
    assert.throws(
      () =>
        parseConfig(
          config('http://127.0.0.1:9', `  pages: { html: ${big}, json: ${members} }`),
          '<test>',
          {},
        ),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.deepEqual(
          err.problems.filter((p) => p.path.startsWith('errors.')).map((p) => `${p.path}: ${p.message}`),
          [
            `errors.pages.html: "${big}" is 1048597 bytes, past 1 MiB: an error page goes out with every failure answer`,
            `errors.pages.json: "${members}" is 1048587 bytes, past 1 MiB: an error page goes out with every failure answer`,
          ],
        );
        return true;
      },
    );
  });

  test('a template without {{request_id}} is a check warning, not an error', () => {
    const quiet = file('quiet.html', '<p>{{status}}</p>');
    const withoutId = parseConfig(
      config('http://127.0.0.1:9', `  pages: { html: ${quiet} }`, LISTEN),
      '<test>',
      {},
    );
    assert.deepEqual(
      configWarnings(withoutId).map((w) => w.split(':')[0]),
      ['errors.pages.html'],
    );
    const withId = parseConfig(
      config('http://127.0.0.1:9', `  pages: { html: ${html} }`, LISTEN),
      '<test>',
      {},
    );
    assert.deepEqual(configWarnings(withId), []);
  });
});

describe('errors.detail: minimal', () => {
  test('no details or next hop in Proxy-Status and the bodies; the log keeps them', async () => {
    const port = await freePort();
    const html = file('minimal.html', '<p>[{{details}}][{{next_hop}}] {{request_id}}</p>');
    const gw = await keep(
      startTestGateway(config(`http://127.0.0.1:${port}`, `  detail: minimal\n  pages: { html: ${html} }`)),
    );
    const r = await request(gw.url, {
      path: '/x',
      headers: { accept: 'application/json', 'x-request-id': 'min-1' },
    });
    assert.equal(r.status, 502);
    assert.equal(r.headers['proxy-status'], 'edge-1; error=connection_refused');
    const problem = JSON.parse(r.text);
    assert.equal(problem.error, 'connection_refused');
    assert.equal(problem.details, undefined);
    assert.equal(problem.next_hop, undefined);
    assert.ok(!r.text.includes('"app"') && !r.text.includes(String(port)), r.text);

    const text = await request(gw.url, { path: '/x', headers: { accept: 'text/plain' } });
    assert.ok(!text.text.includes('app') && !text.text.includes(String(port)), text.text);
    const page = await request(gw.url, { path: '/x', headers: { accept: 'text/html' } });
    assert.equal(page.text, `<p>[][] ${page.headers['x-request-id']}</p>`);

    // The upstream's own 5xx passes through; its member names no next hop either.
    const app = await keep(
      listenOnLoopback((_req, res) => {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('boom');
      }),
    );
    const own = await keep(startTestGateway(config(app.url, '  detail: minimal')));
    const passed = await request(own.url, { path: '/x' });
    assert.equal(passed.status, 500);
    assert.equal(passed.headers['proxy-status'], 'edge-1; received-status=500');
    assert.equal(passed.text, 'boom');

    const line = await gw.logFor('min-1');
    assert.equal(line.error, 'connection_refused');
    assert.equal(line.upstream, 'app');
    assert.ok(String(line.details).length > 0, JSON.stringify(line));
  });
});

describe('errors.detail: minimal, wherever a failure reaches a client', () => {
  test('the built-in HTML page (no template) names neither the upstream nor the details', async () => {
    const port = await freePort();
    const gw = await keep(startTestGateway(config(`http://127.0.0.1:${port}`, '  detail: minimal')));
    const page = await request(gw.url, {
      path: '/x',
      headers: { accept: 'text/html', 'x-request-id': 'min-page' },
    });
    assert.equal(page.status, 502);
    assert.equal(page.headers['content-type'], 'text/html; charset=utf-8');
    assert.ok(page.text.includes('<span class="hop">edge-1</span>'), page.text);
    assert.ok(!page.text.includes('>app<'), `the page draws the upstream's name: ${page.text}`);
    assert.ok(page.text.includes('<span class="hop bad">upstream</span>'), page.text);
    assert.ok(!page.text.includes(String(port)), page.text);
    assert.ok(page.text.includes(String(page.headers['x-request-id'])), page.text);
    const line = await gw.logFor('min-page');
    assert.equal(line.upstream, 'app');
  });

  test('a gRPC client’s Trailers-Only answer: grpc-message and Proxy-Status without details or next hop', async () => {
    const port = await freePort();
    const gw = await keep(
      startTestGateway(config(`http://127.0.0.1:${port}`, '  detail: minimal'), {}, 'http2: true'),
    );
    const client = http2.connect(gw.url);
    const headers = await new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
      const stream = client.request({
        ':method': 'POST',
        ':path': '/pkg.Svc/Call',
        'content-type': 'application/grpc',
        te: 'trailers',
      });
      stream.on('response', resolve);
      stream.on('error', reject);
      stream.resume();
      stream.end(Buffer.from([0, 0, 0, 0, 0]));
    });
    client.close();
    assert.equal(headers[':status'], 200);
    assert.equal(headers['grpc-status'], '14');
    assert.equal(headers['grpc-message'], `connection_refused (request id ${headers['x-request-id']})`);
    assert.equal(headers['proxy-status'], 'edge-1; error=connection_refused');
  });

  test('a stored answer given stale on error: Proxy-Status without details or next hop', async () => {
    const origin = await startMoodyOrigin({
      status: 200,
      fields: ['Cache-Control', 'max-age=0, stale-if-error=60'],
      body: 'stored page',
    });
    const gw = await keep(
      startTestGateway(`name: edge-1
errors: { detail: minimal }
routes:
  - match: { path: / }
    upstream: app
    cache: {}
upstreams:
  app:
    targets:
      - url: ${origin.url}
`),
    );
    try {
      assert.equal((await request(gw.url, { path: '/page' })).text, 'stored page');
      origin.mood = 'status_503';
      const received = await request(gw.url, { path: '/page' });
      assert.equal(received.text, 'stored page');
      assert.equal(received.headers['proxy-status'], 'edge-1; received-status=503');
      await origin.stop();
      const refused = await request(gw.url, { path: '/page', headers: { 'x-request-id': 'min-stale' } });
      assert.equal(refused.status, 200);
      assert.equal(refused.text, 'stored page');
      assert.match(String(refused.headers['cache-status']), /; fwd=stale; fwd-status=502; /);
      assert.equal(refused.headers['proxy-status'], 'edge-1; error=connection_refused');
      const line = await gw.logFor('min-stale');
      assert.equal(line.upstream, 'app');
      assert.ok(String(line.details).length > 0, JSON.stringify(line));
    } finally {
      await origin.stop();
    }
  });
});

describe('errors.pages with the other features', () => {
  test("the auth hop's 502 and a hold's 503 get the template naming their hop; a gRPC call's 504 gets gRPC's answer, never the page", async () => {
    const html = file(
      'hops.html',
      '<p>{{status}} {{type}} hop={{next_hop}} retry={{retry_after}} id={{request_id}}</p>',
    );
    const down = await freePort();
    // An upstream that takes the call and never answers.
    const hanging = await keep(listenOnLoopback(() => {}));
    const gw = await keep(
      startTestGateway(
        `name: edge-1
errors:
  pages: { html: ${html} }
routes:
  - match: { path: /auth }
    upstream: app
    auth:
      forward: { url: "http://127.0.0.1:${down}/check" }
  - match: { path: /held }
    upstream: app
  - match: { path: /pkg.Svc }
    upstream: slow
upstreams:
  app:
    hold: { timeout: 100ms }
    targets:
      - url: http://127.0.0.1:${down}
  slow:
    timeouts: { response: 300ms }
    retries: { attempts: 1 }
    targets:
      - url: ${hanging.url}
`,
        {},
        'http2: true',
      ),
    );
    const page = (path: string) => request(gw.url, { path, headers: { accept: 'text/html' } });
    const auth = await page('/auth');
    assert.equal(auth.status, 502);
    assert.equal(
      auth.text,
      // The hop by its name: its address only with errors.expose_upstream_address.
      `<p>502 connection_refused hop=auth:forward retry= id=${auth.headers['x-request-id']}</p>`,
    );
    const held = await page('/held');
    assert.equal(held.status, 503);
    assert.equal(held.headers['retry-after'], '1');
    assert.equal(
      held.text,
      `<p>503 destination_unavailable hop=app retry=1 id=${held.headers['x-request-id']}</p>`,
    );
    const client = http2.connect(gw.url);
    const answer = await new Promise<{ headers: http2.IncomingHttpHeaders; body: string }>(
      (resolve, reject) => {
        const stream = client.request({
          ':method': 'POST',
          ':path': '/pkg.Svc/Call',
          'content-type': 'application/grpc',
          accept: 'text/html',
          te: 'trailers',
        });
        let headers: http2.IncomingHttpHeaders = {};
        let body = '';
        stream.on('response', (h) => {
          headers = h;
        });
        stream.setEncoding('utf8');
        stream.on('data', (c: string) => {
          body += c;
        });
        stream.on('end', () => resolve({ headers, body }));
        stream.on('error', reject);
        stream.end(Buffer.from([0, 0, 0, 0, 0]));
      },
    );
    client.close();
    assert.equal(answer.headers[':status'], 200);
    assert.equal(answer.headers['content-type'], 'application/grpc');
    assert.equal(answer.headers['grpc-status'], '4');
    assert.match(String(answer.headers['proxy-status']), /^edge-1; error=http_response_timeout;/);
    assert.equal(answer.body, '');
  });
});
