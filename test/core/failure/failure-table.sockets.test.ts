/**
 * Every reachable row of DESIGN.md's failure table, through a real gateway to a real
 * misbehaving upstream: exact status, Proxy-Status, negotiated body, log line, the metrics
 * (the request counted once, under the log line's status and error), and what the upstream
 * received.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { proxyStatusType } from '../../../src/core/failure/proxy-status.ts';
import { FAILURES, type FailureType } from '../../../src/core/failure/taxonomy.ts';
import type { Fault } from '../../../src/kits/fault-kit/fault.ts';
import { request } from '../../helpers/http-client.ts';
import { singleUpstream, startTestGateway, type TestGateway } from '../../helpers/test-gateway.ts';
import { samples, scrape } from '../../observe/metrics/scrape.ts';
import { ROWS, type Row, upstreamOf } from './failure-rows.ts';

const ACCEPTS = ['application/json', 'text/html,application/xhtml+xml;q=0.9,*/*;q=0.8', '*/*'] as const;

describe('the failure table', () => {
  const cleanups: (() => Promise<void>)[] = [];
  after(async () => {
    for (const cleanup of cleanups) await cleanup();
  });

  ROWS.forEach((row, i) => {
    test(row.name, async () => {
      const fault = (await row.start()) as Fault;
      cleanups.push(() => fault.close());
      const gw: TestGateway = await startTestGateway(
        singleUpstream(fault.url, {
          upstream: upstreamOf(row, fault),
          extra: 'metrics:\n  listen: 127.0.0.1:0',
        }),
      );
      cleanups.push(() => gw.close());
      const accept = ACCEPTS[i % ACCEPTS.length];
      const res = await request(gw.url, {
        path: '/orders/42?x=1',
        headers: { accept, 'x-request-id': `row-${i}` },
      });

      assert.equal(res.status, row.status);
      const proxyStatus = String(res.headers['proxy-status']);
      // The registered type RFC 9209 has for it (a type of Candor's own is a case of one).
      assert.match(
        proxyStatus,
        new RegExp(`^edge-1; error=${proxyStatusType(row.error as FailureType)}(;|$)`),
      );
      assert.match(proxyStatus, /; next-hop="app"/);
      assert.match(proxyStatus, /; details="[^"]+"/);
      assert.doesNotMatch(proxyStatus, /127\.0\.0\.1/, 'the upstream address is not exposed by default');
      if (row.param) assert.match(proxyStatus, row.param);
      assert.equal(res.headers['cache-control'], 'no-store');
      // The gateway's own id (the loopback client is not a trusted proxy), in the header, the body and upstream.
      const id = String(res.headers['x-request-id']);
      assert.match(id, /^[0-9a-f-]{36}$/);
      assert.equal(res.headers['retry-after'], undefined);
      assertBody(accept, res.headers['content-type'], res.text, row, id);
      // Nor by the body, in any of its forms (DESIGN: details never carry a target's address
      // unless the config allows it): the target's host and port (its name, for a named one) are
      // nowhere in it. The request's own Host, the gateway's address, is quoted and may be.
      const target = new URL(fault.url);
      const address = target.port ? `${target.hostname}:${target.port}` : target.hostname;
      assert.doesNotMatch(
        res.text,
        new RegExp(`${address.replace(/[.]/g, '\\.')}(?![\\d.])`),
        'the target address is not in the body',
      );

      const line = await gw.logFor(`row-${i}`);
      assert.equal(line.req_id, id);
      assert.equal(line.client_req_id, `row-${i}`);
      assert.equal(line.status, row.status);
      assert.equal(line.error, row.error);
      assert.equal(line.shape, row.shape);
      assert.equal(line.flag, FAILURES[row.error as FailureType].flag);
      assert.equal(line.stage, row.stage ?? (row.reached ? 'sent' : 'not_sent'), 'how far the request got');
      assert.equal(line.upstream_reset, row.upstreamReset ?? false);
      assert.equal(line.upstream, 'app');
      assert.equal(line.route, '/');
      assert.equal(line.path, '/orders/42?x=1');
      assert.equal(line.level, 'warn');
      assert.equal(typeof line.total_ms, 'number');
      // The metrics count the request once, with the line's status and error.
      const counted = samples((await scrape(gw.gateway.metricsPort() as number)).text)
        .filter(
          (s) =>
            s.name === 'candor_responses_total' || s.name === 'http_server_request_duration_seconds_count',
        )
        .map(
          (s) =>
            `${s.name} ${s.labels.code ?? s.labels.http_response_status_code} ${s.labels.error_type} ${s.value}`,
        );
      assert.deepEqual(counted, [
        `candor_responses_total ${row.status} ${row.error} 1`,
        `http_server_request_duration_seconds_count ${row.status} ${row.error} 1`,
      ]);
      assert.equal(line.target, `${target.protocol}//${target.hostname}:${target.port || 80}`);

      const received = fault.received ?? [];
      if (row.reached) {
        assert.equal(received.length, 1, 'the request reached the upstream once');
        assert.equal(received[0].path, '/orders/42?x=1');
        assert.equal(received[0].headers['x-request-id'], id);
      } else {
        assert.equal(received.length, 0, 'nothing reached the upstream');
      }
    });
  });
});

function assertBody(
  accept: string,
  contentType: string | undefined,
  text: string,
  row: Row,
  id: string,
): void {
  // DESIGN: a request that reached the upstream is tried again only if that is safe; the advice
  // to try again says so, since the upstream may have acted on it.
  const sent = (row.stage ?? (row.reached ? 'sent' : 'not_sent')) !== 'not_sent';
  const mayHaveActed = sent && FAILURES[row.error as FailureType].clientMayRetry;
  assert.equal(text.includes('may have acted on it'), mayHaveActed, 'the advice on repeating the request');
  if (accept === 'application/json') {
    assert.equal(contentType, 'application/problem+json');
    const problem = JSON.parse(text);
    assert.equal(problem.status, row.status);
    assert.equal(problem.type, `urn:candor:error:${row.error}`);
    assert.equal(problem.error, row.error);
    assert.equal(problem.shape, row.shape);
    assert.equal(problem.request_id, id);
    assert.equal(problem.next_hop, 'app');
    assert.equal(typeof problem.title, 'string');
    assert.equal(typeof problem.detail, 'string');
  } else if (accept.startsWith('text/html')) {
    assert.equal(contentType, 'text/html; charset=utf-8');
    assert.match(text, /^<!doctype html>/);
    assert.match(text, new RegExp(`<span class="code">${row.status}</span>`));
    assert.ok(text.includes(row.error));
    assert.ok(text.includes(id));
  } else {
    assert.equal(contentType, 'text/plain; charset=utf-8');
    assert.match(text, new RegExp(`^${row.status} `));
    assert.ok(text.includes(`error: ${row.error} (${row.shape})`));
    assert.ok(text.includes(`request id: ${id}`));
  }
}
