/**
 * The stage contract on real sockets (stage.ts, route-stages.ts, stage-run.ts): the order a request meets the
 * hooks, a stage that answers or refuses, a stage's bug told as a 500 naming it (never a hang, the
 * worker serving on), what a stage cannot touch, and stages built anew by a reload.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parseConfig } from '../../../src/core/config/load.ts';
import type { RouteConfig } from '../../../src/core/config/types.ts';
import { Failure } from '../../../src/core/failure/failure.ts';
import { OwnAnswer } from '../../../src/core/net/own-answer.ts';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import type { RouteStage, StageHooks } from '../../../src/proxy/stages/stage.ts';
import { request } from '../../helpers/http-client.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';
import { freePort } from '../../helpers/wait.ts';

/** What the stages saw, in order, by request path. */
const seen: string[] = [];
/** How many times the program was asked for a route's stages (once per route per config load). */
let built = 0;

function stage(
  name: string,
  hooks: (path: string) => StageHooks | undefined,
  init: Partial<RouteStage> = {},
): RouteStage {
  return {
    name,
    timeoutMs: 200,
    failOpen: false,
    ...init,
    start: (request) => hooks(request.head.target),
  };
}

/** Two stages that log every hook they meet, and others that misbehave as the request path asks. */
function stagesFor(route: RouteConfig): RouteStage[] {
  built++;
  if (route.name === 'plain') return [];
  if (route.name === 'meeting')
    return [
      stage(
        'writes-only',
        (path) => {
          seen.push(`writes-only:start ${path}`);
          return undefined;
        },
        { meets: (method) => method === 'POST' },
      ),
    ];
  const logging = (name: string) =>
    stage(name, (path) => ({
      onRequest: () => {
        seen.push(`${name}:request ${path}`);
        return undefined;
      },
      onUpstreamHead: (head) => {
        seen.push(`${name}:head ${head.status}`);
        head.headers.push(`x-${name}`, 'was-here');
      },
      editAnswer: (headers) => [...headers, `x-${name}-answer`, '1'],
      onEnd: (record) => {
        seen.push(`${name}:end ${record.status}`);
      },
    }));
  const trouble = stage('trouble', (path) => {
    if (path === '/s/answer')
      return { onRequest: () => new OwnAnswer(418, ['content-type', 'text/plain'], Buffer.from('teapot\n')) };
    if (path === '/s/refuse')
      return { onRequest: () => new Failure('http_request_denied', 'the stage says no', { status: 403 }) };
    if (path === '/s/throw')
      return {
        onRequest: () => {
          throw new Error('secret stack detail');
        },
      };
    if (path === '/s/reject') return { onRequest: () => Promise.reject(new Error('rejected')) };
    if (path === '/s/hang') return { onRequest: () => new Promise<undefined>(() => {}) };
    if (path === '/s/wait')
      return { onRequest: () => new Promise<undefined>((r) => setTimeout(() => r(undefined), 20)) };
    if (path === '/s/head-throw')
      return {
        onUpstreamHead: () => {
          throw new Error('bad head hook');
        },
      };
    if (path === '/s/lie')
      return {
        onUpstreamHead: (head) => {
          // Tries to take out the request id and to change the framing: neither may happen.
          for (let i = 0; i < head.headers.length; i += 2)
            if (head.headers[i].toLowerCase() === 'x-request-id') head.headers[i + 1] = 'forged';
          head.headers.push('content-length', '999', 'x-plain', 'kept');
        },
      };
    if (path === '/s/fields')
      return {
        onRequest: () => {
          const edits = new Map<string, string | undefined>([
            ['x-tenant', 'acme'],
            ['cookie', undefined],
            ['x-request-id', 'forged'],
            ['x-forwarded-for', '6.6.6.6'],
          ]);
          for (const [name, value] of edits) fieldEdits.set(name, value);
          return undefined;
        },
      };
    if (path === '/s/crash-start') throw new Error('start failed');
    return undefined;
  });
  const observer = stage(
    'observer',
    (path) =>
      path === '/s/observe'
        ? {
            onRequest: () => {
              throw new Error('observer broke');
            },
          }
        : undefined,
    { failOpen: true },
  );
  return [logging('first'), logging('second'), trouble, observer];
}

/** The /s/fields stage's edits, written into the request's upstreamFields by a wrapper below. */
const fieldEdits = new Map<string, string | undefined>();

function withFieldEdits(route: RouteConfig): RouteStage[] {
  return stagesFor(route).map((s) => ({
    ...s,
    start: (request) => {
      const hooks = s.start(request);
      if (hooks?.onRequest === undefined) return hooks;
      const onRequest = hooks.onRequest;
      return {
        ...hooks,
        onRequest: (admitted) => {
          const verdict = onRequest(admitted);
          for (const [name, value] of fieldEdits) request.upstreamFields.set(name, value);
          fieldEdits.clear();
          return verdict;
        },
      };
    },
  }));
}

describe('the stage contract', () => {
  let app: Fault;
  let gw: TestGateway;
  const config = (upstream: string) => `routes:
  - name: staged
    match: { path: /s }
    upstream: app
  - name: plain
    match: { path: /plain }
    upstream: app
  - name: meeting
    match: { path: /m }
    upstream: app
upstreams:
  app:
    targets: [{ url: ${upstream} }]
`;
  before(async () => {
    app = await startEcho();
    gw = await startTestGateway(config(app.url), {}, '', { stages: withFieldEdits });
  });
  after(async () => {
    await gw?.close();
    await app?.close();
  });

  test("a request meets each hook in the stages' order, and every answer the edits", async () => {
    seen.length = 0;
    const res = await request(gw.url, { path: '/s/ok' });
    assert.equal(res.status, 200);
    assert.equal(res.headers['x-first'], 'was-here');
    assert.equal(res.headers['x-second'], 'was-here');
    assert.equal(res.headers['x-first-answer'], '1');
    assert.equal(res.headers['x-second-answer'], '1');
    await gw.logFor(res.headers['x-request-id'] as string);
    assert.deepEqual(seen, [
      'first:request /s/ok',
      'second:request /s/ok',
      'first:head 200',
      'second:head 200',
      'first:end 200',
      'second:end 200',
    ]);
  });

  test('a route with no stage runs no stage code', async () => {
    seen.length = 0;
    const res = await request(gw.url, { path: '/plain' });
    assert.equal(res.status, 200);
    assert.equal(res.headers['x-first'], undefined);
    assert.equal(gw.gateway.runtime().stages.has('plain'), false);
    assert.deepEqual(seen, []);
  });

  test("a request no stage of its route meets (RouteStage.meets) is run as a plain route's: no stage started", async () => {
    seen.length = 0;
    const got = await request(gw.url, { path: '/m/read' });
    assert.equal(got.status, 200);
    assert.deepEqual(seen, []);
    const posted = await request(gw.url, { path: '/m/write', method: 'POST', body: 'x' });
    assert.equal(posted.status, 200);
    assert.deepEqual(seen, ['writes-only:start /m/write']);
  });

  test('a stage that answers ends the request there: no later stage, no upstream', async () => {
    const before = app.received.length;
    const res = await request(gw.url, { path: '/s/answer' });
    assert.equal(res.status, 418);
    assert.equal(res.text, 'teapot\n');
    assert.match(String(res.headers['x-request-id']), /./);
    assert.equal(res.headers['x-first-answer'], '1', "the stages' answer edits reach the stage's own answer");
    assert.equal(app.received.length, before);
  });

  test('a stage that refuses answers with the failure, as the gateway tells any', async () => {
    const res = await request(gw.url, { path: '/s/refuse', headers: { accept: 'application/json' } });
    assert.equal(res.status, 403);
    assert.match(String(res.headers['proxy-status']), /error=http_request_denied/);
    assert.equal(res.headers['content-type'], 'application/problem+json');
  });

  for (const [path, hook, what] of [
    ['/s/throw', 'onRequest', 'threw'],
    ['/s/reject', 'onRequest', 'threw'],
    ['/s/hang', 'onRequest', 'overran its 200 ms'],
    ['/s/crash-start', 'start', 'threw'],
  ] as const) {
    test(`a stage's bug (${path}) is a 500 naming the stage and its hook, never a hang`, async () => {
      const before = app.received.length;
      const res = await request(gw.url, { path, timeoutMs: 5000 });
      assert.equal(res.status, 500);
      const status = String(res.headers['proxy-status']);
      assert.match(status, /error=proxy_internal_error/);
      assert.match(status, new RegExp(`details="trouble ${what} in ${hook}"`));
      assert.doesNotMatch(res.text, /secret stack detail/);
      assert.equal(app.received.length, before, 'the upstream never saw it');
      const line = await gw.logFor(res.headers['x-request-id'] as string);
      assert.equal(line.error, 'proxy_internal_error');
      // The gateway goes on serving.
      assert.equal((await request(gw.url, { path: '/s/ok' })).status, 200);
    });
  }

  test('a slow asynchronous stage within its time is waited for', async () => {
    assert.equal((await request(gw.url, { path: '/s/wait' })).status, 200);
  });

  test('a stage that fails open is logged and counted, and the request goes on', async () => {
    const res = await request(gw.url, { path: '/s/observe' });
    assert.equal(res.status, 200);
    const logged = gw.logs.find((l) => l.msg === 'stage failed' && l.stage === 'observer');
    assert.ok(logged, 'the failure is in the log');
  });

  test("a bug in the upstream's head hook is a 500 naming it; the target is not blamed", async () => {
    const res = await request(gw.url, { path: '/s/head-throw' });
    assert.equal(res.status, 500);
    assert.match(String(res.headers['proxy-status']), /details="trouble threw in onUpstreamHead"/);
    assert.equal((await request(gw.url, { path: '/s/ok' })).status, 200);
  });

  test("a stage cannot take out the gateway's own fields nor change the framing", async () => {
    const res = await request(gw.url, { path: '/s/lie' });
    assert.equal(res.status, 200);
    assert.notEqual(res.headers['x-request-id'], 'forged');
    assert.equal(res.headers['x-plain'], 'kept');
    assert.notEqual(res.headers['content-length'], '999');
    assert.equal(res.aborted, false);
  });

  test('what a stage edits of the request goes upstream, but for the fields Candor writes', async () => {
    const res = await request(gw.url, {
      path: '/s/fields',
      headers: { cookie: 'session=1', 'x-request-id': 'abc' },
    });
    assert.equal(res.status, 200);
    const got = app.received[app.received.length - 1].headers;
    assert.equal(got['x-tenant'], 'acme');
    assert.equal(got.cookie, undefined);
    assert.notEqual(got['x-request-id'], 'forged');
    assert.equal(got['x-forwarded-for'], '127.0.0.1');
  });

  test('a reload builds the stages anew, once per route', async () => {
    built = 0;
    await gw.gateway.reload(
      parseConfig(`listen:\n  - address: 127.0.0.1:0\n${config(app.url)}`, '<test>', {}),
    );
    assert.equal(built, 3);
    assert.equal((await request(gw.url, { path: '/s/ok' })).headers['x-first'], 'was-here');
  });
});

/**
 * Access stages (RouteStage.access: IP lists, authentication): first in a route's order, their
 * onRequest comes before the route's admit policies, which read the fields as their edit leaves
 * them, and before the other stages' onRequest, which meet that edit as `requestEdit`.
 */
describe('the stage contract: access stages', () => {
  let app: Fault;
  let gw: TestGateway;
  const order: string[] = [];
  const gate = (name: string): RouteStage =>
    stage(
      name,
      (path) => {
        if (path === '/a/crash') {
          if (name === 'gate') throw new Error('never named');
          return undefined;
        }
        let user: string | undefined;
        return {
          onRequest: () => {
            order.push(`${name}:request`);
            if (path === '/a/refuse' && name === 'gate')
              return new Failure('http_request_denied', 'the gate says no', { status: 403, final: true });
            if (path === '/a/throw' && name === 'gate') throw new Error('gate broke');
            if (path === '/a/hang' && name === 'gate') return new Promise<undefined>(() => {});
            // The user the gate names, later (an auth service's answer).
            return new Promise<undefined>((r) =>
              setTimeout(() => {
                user = new URLSearchParams(path.split('?')[1]).get('user') ?? 'nobody';
                r(undefined);
              }, 5),
            );
          },
          requestEdit: () =>
            user === undefined ? undefined : (headers) => [...headers, `x-${name}-user`, user as string],
        };
      },
      { access: true },
    );
  const later = stage('after', () => ({
    onRequest: (admitted) => {
      order.push(`after:request ${admitted.requestEdit?.([]).join(' ')}`);
      return undefined;
    },
  }));
  /** A stage past access that edits what goes upstream (as the route's request header rules do): how many times it was asked. */
  let edits = 0;
  const rules: RouteStage = {
    name: 'rules',
    timeoutMs: 200,
    failOpen: false,
    start: (request) => ({
      onRequest: () => {
        request.upstreamFields.set('x-stage-field', 'set');
        return undefined;
      },
      requestEdit: () => {
        edits++;
        return (headers) => {
          const value = (name: string) => headers[headers.findIndex((h) => h.toLowerCase() === name) + 1];
          return [...headers, 'x-rules-saw', `${value('x-gate-user')}|${value('x-stage-field')}`];
        };
      },
    }),
  };
  before(async () => {
    app = await startEcho();
    gw = await startTestGateway(
      `routes:
  - name: gated
    match: { path: /a }
    upstream: app
    limits: { body: 10 }
    rate_limit: { rate: 0.001, burst: 1, key: header:X-Gate-User }
upstreams:
  app:
    targets: [{ url: ${app.url} }]
`,
      {},
      '',
      // Given after another stage, an access stage still runs first.
      { stages: () => [gate('gate'), later, gate('second'), rules] },
    );
  });
  after(async () => {
    await gw?.close();
    await app?.close();
  });

  test('the access stages meet the request first, in order; the others meet their edits, and so does the upstream', async () => {
    order.length = 0;
    const res = await request(gw.url, { path: '/a/ok?user=alice' });
    assert.equal(res.status, 200);
    assert.deepEqual(order, [
      'gate:request',
      'second:request',
      'after:request x-gate-user alice x-second-user alice',
    ]);
    const got = app.received[app.received.length - 1].headers;
    assert.equal(got['x-gate-user'], 'alice');
    assert.equal(got['x-second-user'], 'alice');
  });

  test("a later stage's requestEdit meets what goes upstream once, after the access stages' edits and the stages' upstreamFields", async () => {
    edits = 0;
    const res = await request(gw.url, { path: '/a/ok?user=dave' });
    assert.equal(res.status, 200);
    assert.equal(edits, 1);
    const got = app.received[app.received.length - 1].headers;
    assert.equal(got['x-rules-saw'], 'dave|set');
  });

  test('the admit policies read the fields as the access stages left them', async () => {
    // Keyed on the field the gate wrote: bob's bucket is not alice's (each has a burst of 1).
    assert.equal((await request(gw.url, { path: '/a/ok?user=bob' })).status, 200);
    assert.equal((await request(gw.url, { path: '/a/ok?user=bob' })).status, 429);
    assert.equal((await request(gw.url, { path: '/a/ok?user=carol' })).status, 200);
  });

  test('an access stage that refuses ends the request before the admit policies and every later stage', async () => {
    order.length = 0;
    const before = app.received.length;
    // Its body is over the route's limit: the gate's refusal comes first (no 413).
    const res = await request(gw.url, { path: '/a/refuse', method: 'POST', body: 'far too long a body' });
    assert.equal(res.status, 403);
    assert.match(String(res.headers['proxy-status']), /error=http_request_denied/);
    assert.deepEqual(order, ['gate:request']);
    assert.equal(app.received.length, before);
  });

  for (const [path, hook, what] of [
    ['/a/throw', 'onRequest', 'threw'],
    ['/a/hang', 'onRequest', 'overran its 200 ms'],
    ['/a/crash', 'start', 'threw'],
  ] as const)
    test(`an access stage's bug (${path}) is a 500 naming it and its hook`, async () => {
      order.length = 0;
      const res = await request(gw.url, { path, timeoutMs: 5000 });
      assert.equal(res.status, 500);
      const status = String(res.headers['proxy-status']);
      assert.match(status, /error=proxy_internal_error/);
      assert.match(status, new RegExp(`details="gate ${what} in ${hook}"`));
      assert.deepEqual(order, hook === 'start' ? [] : ['gate:request']);
    });
});

/**
 * A stage that chooses the upstream (chooseUpstream: a split's side, a canary's), past the
 * access stages and before the admit policies; the first that chooses wins. A request waiting in
 * that upstream's hold goes where the stage says it may go now (upstreamsNow).
 */
describe('the stage contract: choosing the upstream', () => {
  let app: Fault;
  let other: Fault;
  let gw: TestGateway;
  const asked: string[] = [];
  const chooser = (name: string, choices: Record<string, string>): RouteStage =>
    stage(name, (path) => ({
      chooseUpstream: () => {
        asked.push(`${name} ${path}`);
        if (path === '/c/throw' && name === 'first') throw new Error('chooser broke');
        const upstream = choices[path];
        return upstream === undefined ? undefined : { upstream };
      },
      upstreamsNow: (redraw) => {
        if (path === '/c/gone-throw' && name === 'first') throw new Error('no side now');
        return redraw ? ['other'] : ['other', 'gone'];
      },
    }));
  before(async () => {
    app = await startEcho();
    other = await startEcho();
    const port = await freePort();
    gw = await startTestGateway(
      `routes:
  - name: chosen
    match: { path: /c }
    upstream: app
upstreams:
  app:
    targets: [{ url: ${app.url} }]
  other:
    targets: [{ url: ${other.url} }]
  gone:
    hold: { timeout: 10s }
    targets: [{ url: "http://127.0.0.1:${port}" }]
`,
      {},
      '',
      {
        stages: () => [
          chooser('first', {
            '/c/first': 'other',
            '/c/unknown': 'nowhere',
            '/c/gone': 'gone',
            '/c/gone-throw': 'gone',
          }),
          chooser('second', { '/c/first': 'app', '/c/second': 'other' }),
        ],
      },
    );
  });
  after(async () => {
    await gw?.close();
    await other?.close();
    await app?.close();
  });

  test("the first stage that chooses sends the request to that upstream; none: the route's own", async () => {
    asked.length = 0;
    for (const [path, to] of [
      ['/c/first', 'other'],
      ['/c/second', 'other'],
      ['/c/plain', 'app'],
    ] as const) {
      const before = [app.received.length, other.received.length];
      const res = await request(gw.url, { path });
      assert.equal(res.status, 200);
      assert.deepEqual(
        [app.received.length - before[0], other.received.length - before[1]],
        to === 'app' ? [1, 0] : [0, 1],
      );
      assert.equal((await gw.logFor(res.headers['x-request-id'] as string)).upstream, to);
    }
    assert.deepEqual(asked, [
      'first /c/first',
      'first /c/second',
      'second /c/second',
      'first /c/plain',
      'second /c/plain',
    ]);
  });

  for (const path of ['/c/throw', '/c/unknown'])
    test(`a stage's bug in chooseUpstream (${path}) is a 500 naming it; no upstream sees the request`, async () => {
      const before = app.received.length + other.received.length;
      const res = await request(gw.url, { path });
      assert.equal(res.status, 500);
      assert.match(
        String(res.headers['proxy-status']),
        /error=proxy_internal_error; details="first threw in chooseUpstream"/,
      );
      assert.equal(app.received.length + other.received.length, before);
    });

  test("a request waiting in its upstream's hold goes where the stage says it may go now", async () => {
    const before = other.received.length;
    const res = await request(gw.url, { path: '/c/gone', timeoutMs: 10_000 });
    assert.equal(res.status, 200);
    assert.equal(other.received.length, before + 1);
    assert.equal((await gw.logFor(res.headers['x-request-id'] as string)).upstream, 'other');
  });

  test("a stage's bug in upstreamsNow is the waiting request's 500 naming it", async () => {
    const before = other.received.length;
    const res = await request(gw.url, { path: '/c/gone-throw', timeoutMs: 10_000 });
    assert.equal(res.status, 500);
    assert.match(
      String(res.headers['proxy-status']),
      /error=proxy_internal_error; details="first threw in upstreamsNow"/,
    );
    assert.equal(other.received.length, before);
  });
});
