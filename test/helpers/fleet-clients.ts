import { FLEET_CLIENT_NAME } from '../../src/server/canary/canary-fleet.ts';
import type { RedisProcess } from './redis-server.ts';

/** The clients of the canaries' fleet connected to `redis` now (by the name they give themselves). */
export async function fleetClients(redis: RedisProcess): Promise<number> {
  const { Redis } = await import('ioredis');
  const client = new Redis(redis.url, { maxRetriesPerRequest: 1, lazyConnect: true });
  try {
    await client.connect();
    const list = (await client.call('CLIENT', 'LIST')) as string;
    return list.split('\n').filter((line) => line.includes(` name=${FLEET_CLIENT_NAME} `)).length;
  } finally {
    client.disconnect();
  }
}

/** Waits (bounded, never asserted in time) until `redis` has `count` fleet clients. */
export async function untilFleetClients(redis: RedisProcess, count: number): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (let now = await fleetClients(redis); now !== count; now = await fleetClients(redis)) {
    if (Date.now() > deadline) throw new Error(`${now} fleet clients on Redis, not ${count}, after 15 s`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
