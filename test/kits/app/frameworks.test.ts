/**
 * The README's wiring for Express, Fastify and Hono, run as written against the real frameworks
 * (devDependencies only): the probes answer before the framework sees the request, the
 * framework's routes serve, the keep-alive hint goes out, a handler finds its request's
 * propagation context across the framework's own async steps, and the shutdown ends clean.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { getRequestListener } from '@hono/node-server';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { type App, createApp } from '../../../src/kits/app/index.ts';
import { currentPropagation } from '../../../src/kits/client/propagation.ts';
import { request } from '../../helpers/http-client.ts';

/** A kit whose readiness the test decides, as a database ping would. */
function kit(): { kit: App; becomeReady(): void } {
  let becomeReady = () => {};
  const ready = new Promise<boolean>((resolve) => {
    becomeReady = () => resolve(true);
  });
  const app = createApp({
    ready: () => ready,
    signals: [],
    exit: false,
    log: false,
    shutdown: { delay: 0, timeout: 2_000 },
  });
  return { kit: app, becomeReady };
}

/** What every framework's route answers: its own word and the request id of its context. */
const answer = (framework: string) => `${framework} ${currentPropagation()?.requestId ?? 'no context'}`;

async function exercise(name: string, app: App, becomeReady: () => void, port: number): Promise<void> {
  const base = `http://127.0.0.1:${port}`;
  try {
    const started = app.start();
    const early = await request(base, { path: '/ready' });
    assert.equal(early.status, 503, `${name}: not ready before the check passes`);
    assert.ok(early.headers['retry-after'], `${name}: with Retry-After`);
    becomeReady();
    await started;
    assert.equal((await request(base, { path: '/ready' })).status, 200, `${name}: ready`);
    assert.equal((await request(base, { path: '/live' })).status, 200, `${name}: live`);
    // fetch keeps the connection alive, so the answer carries the keep-alive hint.
    const served = await fetch(`${base}/hello`, { headers: { 'x-request-id': `${name}-42` } });
    assert.equal(served.status, 200);
    assert.equal(
      await served.text(),
      `${name} ${name}-42`,
      `${name}: the route ran in its request's context`,
    );
    assert.equal(served.headers.get('keep-alive'), 'timeout=65', `${name}: the keep-alive hint`);
  } finally {
    const report = await app.shutdown('test');
    assert.equal(report.forced, 0);
    assert.equal(app.state, 'stopped');
  }
}

test('Express: an Express app is the request listener the kit wraps', async () => {
  const { kit: app, becomeReady } = kit();
  const server = express();
  server.get('/hello', async (_req, res) => {
    await new Promise((resolve) => setTimeout(resolve, 5));
    res.send(answer('express'));
  });
  const http1 = app.attach(http.createServer(app.handle(server)));
  await new Promise<void>((resolve) => http1.listen(0, '127.0.0.1', resolve));
  await exercise('express', app, becomeReady, (http1.address() as AddressInfo).port);
});

test("Fastify: its serverFactory's handler wrapped, the server attached", async () => {
  const { kit: app, becomeReady } = kit();
  const fastify = Fastify({
    serverFactory: (handler) => app.attach(http.createServer(app.handle(handler))),
  });
  fastify.get('/hello', async () => {
    await new Promise((resolve) => setTimeout(resolve, 5));
    return answer('fastify');
  });
  await fastify.listen({ port: 0, host: '127.0.0.1' });
  try {
    await exercise('fastify', app, becomeReady, (fastify.server.address() as AddressInfo).port);
  } finally {
    await fastify.close();
  }
});

test("Hono: @hono/node-server's getRequestListener wrapped", async () => {
  const { kit: app, becomeReady } = kit();
  const hono = new Hono().get('/hello', async (c) => {
    await new Promise((resolve) => setTimeout(resolve, 5));
    return c.text(answer('hono'));
  });
  const server = app.attach(http.createServer(app.handle(getRequestListener(hono.fetch))));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  await exercise('hono', app, becomeReady, (server.address() as AddressInfo).port);
});
