/**
 * `store.redis` over a connection whose far end is gone without a word (the Redis host lost, a
 * failover behind the same address, a NAT that forgot the flow): nothing comes back and no
 * reset either, while a new connection would be answered. A stall looks the same from here, so
 * the connection is kept a while; one that has answered nothing for seconds while decisions
 * wait is opened again, rather than left to TCP, which gives up after about 15 minutes.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { RedisRates } from '../../../src/proxy/admit/redis-rates.ts';
import { closeAll } from '../../helpers/keep.ts';
import { type RedisProcess, startRedis } from '../../helpers/redis-server.ts';
import { waitUntil } from '../../helpers/wait.ts';

let redis: RedisProcess;

before(async () => {
  redis = await startRedis();
});

after(() => closeAll(redis));

/** A relay to Redis whose connections can go silent (both ways, no FIN, no RST); new ones work. */
async function startRelay() {
  const silenced = new Set<net.Socket>();
  const relays = new Set<net.Socket>();
  let silentFromStart = false;
  let opened = 0;
  const proxy = net.createServer((client) => {
    const server = net.connect(redis.port, '127.0.0.1');
    opened++;
    if (silentFromStart) silenced.add(client);
    relays.add(client);
    relays.add(server);
    client.on('data', (chunk: Buffer) => {
      if (!silenced.has(client)) server.write(chunk);
    });
    server.on('data', (chunk: Buffer) => {
      if (!silenced.has(client)) client.write(chunk);
    });
    client.on('error', () => server.destroy());
    server.on('error', () => client.destroy());
    client.on('close', () => server.destroy());
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const port = (proxy.address() as net.AddressInfo).port;
  const lines: string[] = [];
  const logger = {
    info: (_: unknown, msg: string) => lines.push(msg),
    warn: (_: unknown, msg: string) => lines.push(msg),
  };
  const rates = new RedisRates(
    { url: redis.url.replace(`:${redis.port}`, `:${port}`), onError: 'deny', timeout: 50, prefix: 'gone:' },
    logger as never,
    { storeState: () => {}, storeFallback: () => {} },
  );
  return {
    rates,
    lines,
    /** Every connection open now goes silent. */
    silence: () => {
      for (const socket of relays) if (socket.remotePort !== redis.port) silenced.add(socket);
    },
    /** Every connection, open now or opened later, goes silent (a path that drops everything), until newOnesWork(). */
    silenceAll: () => {
      silentFromStart = true;
      for (const socket of relays) if (socket.remotePort !== redis.port) silenced.add(socket);
    },
    /** New connections work again; those open stay silent. */
    newOnesWork: () => {
      silentFromStart = false;
    },
    /** Connections made to the relay so far. */
    opened: () => opened,
    close: async () => {
      await rates.close();
      for (const socket of relays) socket.destroy();
      proxy.close();
    },
  };
}

const limit = { rate: 1000, burst: 1000, key: { kind: 'client' }, ipv6Prefix: 64 } as const;

/** Asks as requests would, 25 ms apart, until Redis decides again. */
async function untilDecided(rates: RedisRates): Promise<void> {
  let answer: unknown;
  for (let tries = 0; answer !== 0; tries++) {
    assert.ok(tries < 600, 'Redis decides again on a new connection');
    await new Promise((resolve) => setTimeout(resolve, 25));
    answer = await rates.take('gone', limit, 'k');
  }
}

test('a connection that answers nothing for seconds while decisions wait is opened again, and Redis decides again', async () => {
  const relay = await startRelay();
  try {
    await waitUntil('connected', () => relay.rates.status().state === 'up');
    assert.equal(await relay.rates.take('gone', limit, 'k'), 0);
    relay.silence();
    assert.deepEqual(await relay.rates.take('gone', limit, 'k'), { storeDenied: 'Command timed out' });
    // Before, every request was on_error's for as long as TCP kept the socket.
    await untilDecided(relay.rates);
    assert.equal(
      relay.lines[1],
      'rate limit store unreachable: rate-limited requests are refused until it answers',
    );
  } finally {
    await relay.close();
  }
});

test('a connection opened again while the path dropped everything, its handshake never answered, is opened again too', async () => {
  const relay = await startRelay();
  try {
    await waitUntil('connected', () => relay.rates.status().state === 'up');
    assert.equal(await relay.rates.take('gone', limit, 'k'), 0);
    relay.silenceAll();
    assert.deepEqual(await relay.rates.take('gone', limit, 'k'), { storeDenied: 'Command timed out' });
    // The silent connection is opened again (the test above); the new one's AUTH goes nowhere.
    await waitUntil('opened again', async () => {
      await relay.rates.take('gone', limit, 'k');
      return relay.opened() === 2;
    });
    relay.newOnesWork();
    // Before, that connection waited for its handshake's answer for as long as TCP kept it (ioredis
    // bounds the TCP connect only), and every request was on_error's meanwhile.
    await untilDecided(relay.rates);
    assert.ok(relay.opened() >= 3, 'decided on a connection made after the path mended');
  } finally {
    await relay.close();
  }
});
