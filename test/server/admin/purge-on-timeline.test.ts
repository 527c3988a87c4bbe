/**
 * A cache purge is a change on the deploy timeline, on a real `candor serve --workers 2`: every
 * answer it drops is one the upstream serves again, which is how a purge starts a storm (a
 * thundering herd at the origin). It was logged (`admin purge`) but was no event: `GET /events`,
 * the status page's Changes and chart markers, and `candor explain` never showed it, where a
 * drain or a maintenance made through the same API are there. A purge refused (a route without a
 * cache) changed nothing and is not one.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { readEvent } from '../../../src/observe/events/read-event.ts';
import { launchChromium, noChromium, openStatusPage } from '../../helpers/chromium.ts';
import { request } from '../../helpers/http-client.ts';
import { closeAll } from '../../helpers/keep.ts';
import { adminCall, type ServeProcess, startServe } from '../../helpers/serve-process.ts';
import { tempDir } from '../../helpers/temp-dir.ts';
import { freePort } from '../../helpers/wait.ts';

const TOKEN = 'purge-timeline-token-0123456789abcd';
const dir = tempDir('candor-purge-timeline-');
let app: Fault;
let serve: ServeProcess;
let adminPort: number;

before(async () => {
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
  app = await startEcho();
  adminPort = await freePort();
  const path = join(dir, 'candor.yaml');
  writeFileSync(
    path,
    `name: purge-timeline
listen:
  - address: 127.0.0.1:0
admin: { listen: "127.0.0.1:${adminPort}", token_file: ${tokenFile} }
routes:
  - name: pages
    match: { path: /pages }
    upstream: app
    cache: {}
  - name: web
    upstream: app
upstreams:
  app:
    targets: [{ url: "${app.url}" }]
`,
  );
  serve = await startServe(path, 2, { admin: true });
});

after(() => closeAll(serve, app));

type Listed = { kind: string; who?: string; change?: Record<string, unknown>; summary: string };

async function events(): Promise<Listed[]> {
  const answer = await adminCall(adminPort, 'GET', '/events', { token: TOKEN });
  assert.equal(answer.status, 200, answer.text);
  return answer.body.events as Listed[];
}

test('a purge is on the deploy timeline once, with who and what, in words; a refused one is not', async () => {
  for (let i = 0; i < 4; i++) await request(`http://127.0.0.1:${serve.port}`, { path: '/pages/a' });

  const refused = await adminCall(adminPort, 'DELETE', '/cache?route=web', { token: TOKEN });
  assert.equal(refused.status, 400, refused.text);
  assert.deepEqual(await events(), [], 'a refused purge changed nothing');

  const one = await adminCall(adminPort, 'DELETE', '/cache?route=pages&key=/pages/a', { token: TOKEN });
  assert.equal(one.status, 200, one.text);
  const all = await adminCall(adminPort, 'DELETE', '/cache', { token: TOKEN });
  assert.equal(all.status, 200, all.text);

  const listed = await events();
  assert.equal(listed.length, 2, JSON.stringify(listed));
  const [first, second] = listed;
  assert.equal(first.kind, 'admin');
  assert.match(String(first.who), /^127\.0\.0\.1:\d+$/);
  assert.deepEqual(first.change, { kind: 'purge', route: 'pages', key: '/pages/a' });
  assert.match(
    first.summary,
    /^admin: cache of route pages purged \(keys under "\/pages\/a"\) by 127\.0\.0\.1:\d+$/,
  );
  assert.deepEqual(second.change, { kind: 'purge', route: null, key: null });
  assert.match(second.summary, /^admin: every route's cache purged by 127\.0\.0\.1:\d+$/);

  // Written to the log once each, as `candor explain` reads it back.
  await serve.waitForLines('event', 2);
  const lines = serve.lines.filter((l) => l.msg === 'event');
  assert.equal(lines.length, 2, JSON.stringify(lines));
  const read = lines.map((l) => readEvent(l.event));
  assert.deepEqual(
    read.map((e) => (e?.kind === 'admin' ? e.change : e)),
    [
      { kind: 'purge', route: 'pages', key: '/pages/a' },
      { kind: 'purge', route: null, key: null },
    ],
  );
});

test('the status page shows a purge in its Changes and as a marker on its chart', {
  timeout: 90_000,
  skip: noChromium,
}, async () => {
  const browser = await launchChromium(join(dir, 'chromium-profile'), { width: 1280, height: 1000 });
  try {
    const { page, pageErrors } = await openStatusPage(browser, adminPort, TOKEN);
    const purged = await adminCall(adminPort, 'DELETE', '/cache?route=pages&key=%3Cb%3Ex', { token: TOKEN });
    assert.equal(purged.status, 200, purged.text);
    const row = page.locator('#events tr[data-kind="admin"] td.summary', { hasText: '(keys under "<b>x")' });
    await row.waitFor({ state: 'visible' });
    assert.match(
      (await row.textContent()) ?? '',
      /^admin: cache of route pages purged \(keys under "<b>x"\) by /,
    );
    const marker = page.locator('#chart line.event[data-kind="admin"] title', { hasText: '<b>x' });
    await marker.first().waitFor({ state: 'attached' });
    assert.deepEqual(pageErrors, []);
  } finally {
    await browser.close();
  }
});
