import net from 'node:net';

/** Ports this process has handed out: the kernel may give a port just closed to the next listen(0). */
const handedOut = new Set<number>();

/**
 * A loopback port free a moment ago (for a config that must name its port before it starts),
 * never one this process has handed out before: two calls in a row could get the same port (a
 * test's "stable" and "next" upstreams became one server, and a request answered by the one was
 * logged as the other's).
 */
export async function freePort(): Promise<number> {
  for (let tries = 0; tries < 100; tries++) {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    await new Promise((resolve) => server.close(resolve));
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error('no loopback port this process has not handed out already, in 100 tries');
}

/** Resolves once `condition()` holds; throws naming `what` after `timeoutMs`. */
export async function waitUntil(what: string, condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`still not ${what} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
