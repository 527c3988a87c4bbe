/**
 * The stage contract's hooks for a stage that answers in the upstream's place (stage.ts: the
 * response cache is one), on real sockets: before the first attempt (onForward), on the
 * upstream's head (onUpstreamHead's `{ answer }`), on the relayed head (onRelayed: a copy of the
 * body) and on a failure (onFailure): their order, the first answer ending the request, and a
 * stage's bug in each told as a 500 naming the stage and the hook (or, once the head went
 * downstream, logged while the answer goes on).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Failure } from '../../../src/core/failure/failure.ts';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { startRefusing } from '../../../src/kits/fault-kit/unreachable-faults.ts';
import type { RouteStage, StageAnswer, StageHooks } from '../../../src/proxy/stages/stage.ts';
import { request } from '../../helpers/http-client.ts';
import { closeAll } from '../../helpers/keep.ts';
import { startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';

/** What the stages met, in order. */
const seen: string[] = [];
/** The body bytes the copying stage was given, and whether it heard the end. */
const copied: { bytes: number; ended: boolean } = { bytes: 0, ended: false };

/** An answer a stage writes itself: 200 with its name as the body. */
function answerOf(name: string): StageAnswer {
  return {
    send(out) {
      const body = Buffer.from(`${name}\n`);
      out.responded(200);
      const head = out.head(
        ['content-type', 'text/plain', 'content-length', String(body.length)],
        '1.1',
        undefined,
      );
      out.sink.sendHead(200, 'OK', head, out.close);
      out.sink.write(body);
      out.sink.end();
    },
  };
}

function stage(name: string, hooks: (path: string) => StageHooks | undefined): RouteStage {
  return { name, timeoutMs: 200, failOpen: false, start: (request) => hooks(request.head.target) };
}

/** `first` logs every hook and answers as the path asks; `second` logs, adds a field, copies bodies; `trouble` throws. */
function stagesFor(): RouteStage[] {
  const first = stage('first', (path) => ({
    onRequest: () => {
      seen.push('first:request');
      return undefined;
    },
    onForward: () => {
      seen.push('first:forward');
      if (path.startsWith('/a/forward-answer')) return answerOf('first');
      if (path.startsWith('/a/forward-refuse'))
        return new Failure('http_request_denied', 'not before the upstream', { status: 403 });
      if (path.startsWith('/a/forward-wait'))
        return new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 20));
      return undefined;
    },
    onUpstreamHead: (head) => {
      seen.push(`first:head ${head.status}`);
      return head.status === 503 && path.includes('instead') ? { answer: answerOf('first') } : undefined;
    },
    onFailure: (failure) => {
      seen.push(`first:failure ${failure.type}`);
      return path.includes('stand-in') ? answerOf('stood-in') : undefined;
    },
    editAnswer: (headers) => [...headers, 'x-first-answer', '1'],
  }));
  const second = stage('second', (path) => ({
    onRequest: () => {
      seen.push('second:request');
      return undefined;
    },
    onForward: (sent) => {
      seen.push('second:forward');
      sent.addFields(['x-added', 'by-second']);
      return undefined;
    },
    onUpstreamHead: (head) => {
      seen.push(`second:head ${head.status}`);
    },
    onRelayed: (head) => {
      seen.push(`second:relayed ${head.status}`);
      return {
        add: (chunk) => {
          copied.bytes += chunk.length;
        },
        end: () => {
          copied.ended = true;
        },
      };
    },
    onFailure: () => {
      seen.push('second:failure');
      return path.includes('second') ? answerOf('second') : undefined;
    },
  }));
  const trouble = stage('trouble', (path) => {
    const bug = () => {
      throw new Error('secret stack detail');
    };
    if (path.startsWith('/a/throw-forward')) return { onForward: bug };
    if (path.startsWith('/a/throw-relayed')) return { onRelayed: bug };
    if (path.startsWith('/d/throw-failure')) return { onFailure: bug };
    return undefined;
  });
  return [first, second, trouble];
}

describe('the stage contract: answering in the upstream place', () => {
  let app: Fault;
  let gw: TestGateway;
  let dead: Fault;
  before(async () => {
    app = await startEcho();
    // An upstream that refuses the connection, on a port no other process's listen(0) is given:
    // one of the system's picks, closed, was now and then another test file's server under the
    // whole suite, which answered (a 101, a 200) where a refusal was asserted.
    dead = await startRefusing();
    const config = `routes:
  - name: answering
    match: { path: /a }
    upstream: app
  - name: down
    match: { path: /d }
    upstream: down
upstreams:
  app:
    targets: [{ url: ${app.url} }]
  down:
    targets: [{ url: ${dead.url} }]
    retries: { attempts: 1 }
`;
    gw = await startTestGateway(config, {}, '', { stages: stagesFor });
  });
  after(() => closeAll(gw, app, dead));

  test('before the first attempt each stage meets what every attempt sends, after every onRequest; what it adds goes upstream', async () => {
    seen.length = 0;
    const res = await request(gw.url, { path: '/a/ok' });
    assert.equal(res.status, 200);
    const got = app.received[app.received.length - 1].headers;
    assert.equal(got['x-added'], 'by-second');
    assert.deepEqual(seen, [
      'first:request',
      'second:request',
      'first:forward',
      'second:forward',
      'first:head 200',
      'second:head 200',
      'second:relayed 200',
    ]);
  });

  test('a stage that answers before the first attempt ends the request there: no later stage, no upstream', async () => {
    seen.length = 0;
    const before = app.received.length;
    const res = await request(gw.url, { path: '/a/forward-answer' });
    assert.equal(res.status, 200);
    assert.equal(res.text, 'first\n');
    assert.match(String(res.headers['x-request-id']), /./);
    assert.equal(res.headers['x-first-answer'], '1', "the stages' edits reach a stage's answer");
    assert.equal(app.received.length, before);
    assert.deepEqual(seen, ['first:request', 'second:request', 'first:forward']);
  });

  test('a stage that refuses before the first attempt answers with the failure, as the gateway tells any', async () => {
    const before = app.received.length;
    const res = await request(gw.url, { path: '/a/forward-refuse', headers: { accept: 'application/json' } });
    assert.equal(res.status, 403);
    assert.match(String(res.headers['proxy-status']), /error=http_request_denied/);
    assert.equal(app.received.length, before);
  });

  test('a stage that waits before the first attempt is waited for', async () => {
    const res = await request(gw.url, { path: '/a/forward-wait' });
    assert.equal(res.status, 200);
    assert.equal(app.received[app.received.length - 1].headers['x-added'], 'by-second');
  });

  test("a stage's answer in place of the upstream's head: not relayed, and no later stage meets that head", async () => {
    seen.length = 0;
    const res = await request(gw.url, { path: '/a/instead?status=503' });
    assert.equal(res.status, 200);
    assert.equal(res.text, 'first\n');
    assert.equal(res.headers['x-first-answer'], '1');
    assert.equal(res.headers['proxy-status'], undefined, 'no Proxy-Status of the 503 that never went out');
    assert.deepEqual(seen.slice(-1), ['first:head 503']);
    const line = await gw.logFor(res.headers['x-request-id'] as string);
    assert.equal(line.status, 200);
  });

  test('the relayed body goes through the copy a stage asked for, whole and ended', async () => {
    copied.bytes = 0;
    copied.ended = false;
    const res = await request(gw.url, { path: '/a/body?bytes=50000' });
    assert.equal(res.status, 200);
    assert.equal(res.body.length, 50000);
    assert.equal(copied.bytes, 50000);
    assert.equal(copied.ended, true);
  });

  test('on a failure the first stage that answers stands in for the gateway error response', async () => {
    seen.length = 0;
    const res = await request(gw.url, { path: '/d/stand-in' });
    assert.equal(res.status, 200);
    assert.equal(res.text, 'stood-in\n');
    assert.ok(seen.some((s) => s.startsWith('first:failure ')));
    assert.ok(!seen.includes('second:failure'), 'no stage after the one that answered');
    const line = await gw.logFor(res.headers['x-request-id'] as string);
    assert.equal(line.status, 200);
  });

  test('a stage that throws before the first attempt is a 500 naming it and onForward; the upstream never sees it', async () => {
    const before = app.received.length;
    const res = await request(gw.url, { path: '/a/throw-forward' });
    assert.equal(res.status, 500);
    assert.match(String(res.headers['proxy-status']), /details="trouble threw in onForward"/);
    assert.doesNotMatch(res.text, /secret stack detail/);
    assert.equal(app.received.length, before);
    assert.equal((await request(gw.url, { path: '/a/ok' })).status, 200);
  });

  test('a stage that throws on the relayed head is logged: the answer goes on whole', async () => {
    const res = await request(gw.url, { path: '/a/throw-relayed' });
    assert.equal(res.status, 200);
    assert.equal(res.aborted, false);
    const logged = gw.logs.find(
      (l) => l.msg === 'stage failed' && l.stage === 'trouble' && l.hook === 'onRelayed',
    );
    assert.ok(logged, 'the failure is in the log');
  });

  test('on a failure the stages are asked in order: the next one answers when the first does not', async () => {
    seen.length = 0;
    const res = await request(gw.url, { path: '/d/second' });
    assert.equal(res.status, 200);
    assert.equal(res.text, 'second\n');
    const asked = seen.filter((s) => s.includes(':failure'));
    assert.deepEqual(
      asked.map((s) => s.split(' ')[0]),
      ['first:failure', 'second:failure'],
    );
  });

  test('a failure no stage answers for: each stage is asked once, and the gateway answers it', async () => {
    seen.length = 0;
    const res = await request(gw.url, { path: '/d/none' });
    assert.equal(res.status, 502);
    assert.match(String(res.headers['proxy-status']), /error=connection_refused/);
    assert.deepEqual(
      seen.filter((s) => s.includes(':failure')),
      ['first:failure connection_refused', 'second:failure'],
    );
  });

  test('a stage that throws on a failure is a 500 naming it and onFailure, in place of the failure', async () => {
    const res = await request(gw.url, { path: '/d/throw-failure' });
    assert.equal(res.status, 500);
    const status = String(res.headers['proxy-status']);
    assert.match(status, /error=proxy_internal_error/);
    assert.match(status, /details="trouble threw in onFailure"/);
    assert.doesNotMatch(res.text, /secret stack detail/);
    const line = await gw.logFor(res.headers['x-request-id'] as string);
    assert.equal(line.error, 'proxy_internal_error');
  });
});
