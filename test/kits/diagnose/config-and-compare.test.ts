/**
 * An upstream named from a config: every target probed with the request the gateway would
 * send and that upstream's timeouts. And --compare: the same request through a real gateway,
 * to say which hop differs.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { parseConfig } from '../../../src/core/config/load.ts';
import { diagnose } from '../../../src/kits/diagnose/diagnose.ts';
import { createTextPrinter, headingFor } from '../../../src/kits/diagnose/render-text.ts';
import { TargetError } from '../../../src/kits/diagnose/targets.ts';
import { h2Answer, startH2 } from '../../../src/kits/fault-kit/h2-faults.ts';
import { startEcho } from '../../../src/kits/fault-kit/http-servers.ts';
import { startBlackhole } from '../../../src/kits/fault-kit/slow-faults.ts';
import { startRefusing } from '../../../src/kits/fault-kit/unreachable-faults.ts';
import { singleUpstream, startTestGateway } from '../../helpers/test-gateway.ts';

const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const cleanup of cleanups) await cleanup();
});

async function start<T extends { close(): Promise<void> }>(starting: Promise<T>): Promise<T> {
  const started = await starting;
  cleanups.push(() => started.close());
  return started;
}

function configWith(targets: readonly string[], upstreamExtra = ''): ReturnType<typeof parseConfig> {
  const yaml = `name: edge-7
listen: [{ address: "127.0.0.1:0" }]
routes: [{ upstream: app }]
upstreams:
  app:
    targets:
${targets.map((url) => `      - url: ${url}`).join('\n')}
${upstreamExtra}
`;
  return parseConfig(yaml, '<diagnose-test>', {});
}

describe('diagnose --config UPSTREAM', () => {
  test('probes every target with the request the gateway would send, and its timeouts', async () => {
    const echo = await start(startEcho());
    const refused = await start(startRefusing());
    const hole = await start(startBlackhole());
    const config = configWith(
      [echo.url, refused.url, hole.url],
      '    timeouts: { connect: 300ms, response: 200ms }',
    );
    const started = performance.now();
    const report = await diagnose({ target: 'app', config, path: '/orders/42?x=1', host: 'shop.example' });
    assert.ok(performance.now() - started < 2000, 'the response timeout came from the config');
    assert.deepEqual(
      report.targets.map((target) => [
        target.upstream,
        target.verdict.outcome,
        target.verdict.failure?.type ?? null,
      ]),
      [
        ['app', 'ok', null],
        ['app', 'failure', 'connection_refused'],
        ['app', 'failure', 'http_response_timeout'],
      ],
    );
    assert.equal(report.exitCode, 2);
    assert.equal(report.config, '<diagnose-test>');
    assert.match(report.targets[2].verdict.fix, /no response head in 200 ms/);

    const received = await echo.waitForRequest(1);
    assert.equal(received.method, 'GET');
    assert.equal(received.path, '/orders/42?x=1');
    assert.equal(received.headers.host, 'shop.example');
    assert.equal(received.headers.via, '1.1 edge-7');
    assert.equal(received.headers['x-forwarded-host'], 'shop.example');
    assert.equal(received.headers['x-forwarded-proto'], 'http');
    assert.equal(received.headers['x-forwarded-for'], '127.0.0.1');
    assert.match(received.headers['x-request-id'], /^diagnose-[0-9a-f]{16}$/);
    assert.match(received.headers.traceparent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  });

  test('the text names the upstream, its request and timeouts, then each target with its verdict', async () => {
    const echo = await start(startEcho());
    const refused = await start(startRefusing());
    const config = configWith([echo.url, refused.url]);
    const options = { target: 'app', config };
    let text = '';
    const printer = createTextPrinter(
      (chunk) => {
        text += chunk;
      },
      { color: false },
    );
    await diagnose(options, {
      ...printer.events,
      planned: (plans) => printer.heading(headingFor(options, plans)),
    });
    assert.match(
      text,
      /^candor diagnose app \(2 targets in <diagnose-test>; GET \/; timeouts: connect 2000 ms, response 30000 ms\)\n/,
    );
    assert.match(
      text,
      new RegExp(`\ntarget ${echo.url}/ \\(upstream "app"\\)\n[^]*?verdict: the upstream answers 200`),
    );
    assert.match(
      text,
      new RegExp(
        `\n\ntarget ${refused.url}/ \\(upstream "app"\\)\n[^]*?verdict: unreachable / connection_refused`,
      ),
    );
  });

  test('a URL that is a target of an upstream takes that upstream settings', async () => {
    const hole = await start(startBlackhole());
    const config = configWith([hole.url], '    timeouts: { response: 150ms }');
    const report = await diagnose({ target: `${hole.url}/x`, config });
    assert.equal(report.targets[0].upstream, 'app');
    assert.equal(report.targets[0].verdict.failure?.type, 'http_response_timeout');
    assert.match(report.targets[0].verdict.fix, /150 ms/);
  });

  test('an unknown upstream name, or a name without a config, is a usage error', async () => {
    const config = configWith(['http://127.0.0.1:9']);
    await assert.rejects(diagnose({ target: 'ap', config }), (err: Error) => {
      assert.ok(err instanceof TargetError);
      assert.match(err.message, /no upstream "ap" in <diagnose-test>; did you mean "app"\?/);
      return true;
    });
    await assert.rejects(diagnose({ target: 'app' }), /give --config FILE/);
    await assert.rejects(diagnose({ target: 'ftp://127.0.0.1/' }), /must be http:\/\/ or https:\/\//);
  });

  test('a URL with user:password@ is refused without its password: the probe would not send them, and the report would print it', async () => {
    for (const [target, via] of [
      ['http://user:s3cret@127.0.0.1:9/x', undefined],
      ['http://127.0.0.1:9/x', 'http://admin:s3cret@127.0.0.1:9/'],
    ] as const)
      await assert.rejects(diagnose({ target, via }), (err: Error) => {
        assert.ok(err instanceof TargetError);
        assert.match(err.message, /must not carry user:password@: they would not be sent/);
        assert.doesNotMatch(err.message, /s3cret/);
        return true;
      });
  });
});

describe('diagnose --compare GATEWAY', () => {
  test('direct works but the gateway route points elsewhere: the gateway differs', async () => {
    const echo = await start(startEcho());
    const refused = await start(startRefusing());
    const gateway = await start(startTestGateway(singleUpstream(refused.url)));
    const report = await diagnose({ target: `${echo.url}/health`, via: gateway.url });
    assert.equal(report.targets[0].verdict.outcome, 'ok');
    const via = report.via;
    assert.ok(via);
    assert.equal(via.viaGateway, true);
    assert.equal(via.verdict.outcome, 'failure');
    assert.equal(via.verdict.status, 502);
    assert.equal(via.verdict.failure?.type, 'connection_refused');
    assert.match(
      via.verdict.summary,
      /^the gateway answers 502: unreachable \/ connection_refused \(next-hop "app"\)/,
    );
    assert.equal(report.comparison?.differs, 'gateway');
    assert.match(
      report.comparison?.summary ?? '',
      /^direct is fine \(200\) but through the gateway it is 502 connection_refused/,
    );
    assert.equal(report.exitCode, 2);
    assert.equal(echo.received.length, 1, 'only the direct probe reached the echo');
  });

  test('both fail the same way: the upstream is at fault', async () => {
    const refused = await start(startRefusing());
    const gateway = await start(startTestGateway(singleUpstream(refused.url)));
    const report = await diagnose({ target: refused.url, via: gateway.url });
    assert.equal(report.comparison?.differs, 'upstream');
    assert.match(report.comparison?.summary ?? '', /both fail the same way \(connection_refused\)/);
  });

  test("both fail alike on the protocol the gateway's upstream is set to: its setting is named, not the upstream alone", async () => {
    // An h2c-only target behind an upstream left at http1: the gateway fails as the direct
    // probe does, and the fix (above it) is the gateway's `protocol` setting for the upstream.
    const h2only = await start(startH2(h2Answer));
    const gateway = await start(startTestGateway(singleUpstream(h2only.url)));
    const report = await diagnose({ target: h2only.url, via: gateway.url });
    assert.equal(report.targets[0].verdict.failure?.type, 'http_protocol_error');
    assert.match(report.targets[0].verdict.fix, /Set the upstream's protocol to h2c\.$/);
    assert.equal(report.comparison?.differs, 'upstream');
    assert.equal(
      report.comparison?.summary,
      "both fail the same way (http_protocol_error): the target does not speak the protocol the gateway's upstream is set to: change the upstream's protocol in the gateway's config (the fix above), or what the target speaks.",
    );
  });

  test('both answer alike: nothing differs', async () => {
    const echo = await start(startEcho());
    const gateway = await start(startTestGateway(singleUpstream(echo.url)));
    const report = await diagnose({ target: `${echo.url}/?status=503`, via: gateway.url });
    assert.equal(report.targets[0].verdict.outcome, 'upstream_error');
    assert.equal(report.via?.verdict.outcome, 'upstream_error');
    assert.equal(report.comparison?.differs, 'none');
    assert.equal(report.exitCode, 1);
    // Through the gateway the probe is a plain client: the only Via is the gateway's (one of ours would read as a loop).
    const [direct, through] = [await echo.waitForRequest(1), await echo.waitForRequest(2)];
    assert.equal(direct.headers.via, '1.1 candor');
    assert.equal(through.headers.via, '1.1 edge-1');
  });

  test("a path on the gateway's URL is the route's: the probe through the gateway asks it there", async () => {
    const echo = await start(startEcho());
    const gateway = await start(
      startTestGateway(`name: edge-1
routes:
  - match: { path: /api }
    upstream: app
    strip_prefix: true
upstreams:
  app:
    targets: [{ url: ${echo.url} }]
`),
    );
    const report = await diagnose({
      target: `${echo.url}/orders?id=7`,
      via: `${gateway.url}/api/orders?id=7`,
    });
    assert.equal(report.via?.verdict.status, 200);
    assert.equal(report.comparison?.differs, 'none');
    assert.deepEqual(
      echo.received.map((r) => r.path),
      ['/orders?id=7', '/orders?id=7'],
      'the direct probe and the one through the gateway reached the same path',
    );
  });

  test('a gateway that does not answer at all is named as such', async () => {
    const echo = await start(startEcho());
    const nowhere = await start(startRefusing());
    const report = await diagnose({ target: echo.url, via: nowhere.url });
    assert.equal(report.comparison?.differs, 'gateway');
    assert.match(report.comparison?.summary ?? '', /the gateway itself does not answer/);
  });
});
