/**
 * errors.pages.html: a placeholder in an attribute written without quotes (`<div
 * title={{details}}>`) still gives its value no way out of it. The details quote the request's
 * path, which a client chooses: an `=` in it made the rest of the path an attribute of its own
 * (`onmouseover=…`), a script on the gateway's own error page. Checked in a real Chromium, which
 * parses the page as every browser does.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { launchChromium, noChromium } from '../../helpers/chromium.ts';
import { request } from '../../helpers/http-client.ts';
import { closeAfterAll } from '../../helpers/keep.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { startTestGateway } from '../../helpers/test-gateway.ts';

const keep = closeAfterAll();
const dir = tempDir('candor-page-attributes-');
const template = join(dir, 'page.html');
writeFileSync(
  template,
  '<!doctype html><title>{{status}}</title><div id=d title={{details}} data-id={{request_id}}>{{reason}}</div>\n',
);
// Written as Chromium sends it: its URL parser keeps every one of these characters as it is.
const PATH = '/x/onmouseover=alert(1)//';

async function gateway() {
  return keep(
    startTestGateway(`errors:
  pages: { html: ${template} }
routes:
  - match: { path: /api }
    upstream: app
upstreams:
  app:
    targets: [{ url: "http://127.0.0.1:9" }]
`),
  );
}

test('a placeholder in an unquoted attribute: the client’s "=" is a character reference, not markup', async () => {
  const gw = await gateway();
  const res = await request(gw.url, { path: PATH, headers: { accept: 'text/html' } });
  assert.equal(res.status, 404);
  assert.equal(res.headers['content-type'], 'text/html; charset=utf-8');
  // Only the body is escaped: Proxy-Status says the details as they are.
  assert.equal(
    res.headers['proxy-status'],
    'candor; error=destination_not_found; details="no route for 127.0.0.1/x/onmouseover=alert(1)/"',
  );
  assert.ok(!res.text.includes('onmouseover='), res.text);
  assert.ok(res.text.includes('title=no route for 127.0.0.1/x/onmouseover&#61;alert(1)/ data-id='), res.text);
});

test('in Chromium, the client’s path gives the page’s div no handler', {
  skip: noChromium,
  timeout: 60_000,
}, async () => {
  const gw = await gateway();
  const context = await launchChromium(tempDir('candor-page-attributes-chromium-'));
  try {
    const page = await context.newPage();
    const response = await page.goto(`${gw.url}${PATH}`);
    assert.equal(response?.status(), 404);
    const attributes = (await page.evaluate(
      "[...document.getElementById('d').attributes].map((a) => [a.name, a.value])",
    )) as [string, string][];
    // The words of an unquoted value past its first are attributes without a value (the
    // template's to quote); none of them is a handler, and none carries the client's script.
    assert.ok(!attributes.some(([name]) => name === 'onmouseover'), JSON.stringify(attributes));
    assert.ok(!attributes.some(([, value]) => value.includes('alert')), JSON.stringify(attributes));
    assert.deepEqual(attributes[0], ['id', 'd']);
    assert.deepEqual(attributes.at(-1)?.[0], 'data-id');
  } finally {
    await context.close();
  }
});
