import net from 'node:net';

/**
 * reset / connection_terminated, on demand: a minimal keep-alive HTTP upstream that can be
 * "killed" and "revived" mid-test (and flaps in the demo): in
 * `reset` mode it resets every connection it has and every one it accepts, like a process
 * that crashed while its port is still held. It counts connections per mode, with times,
 * so a test can assert that an ejected target received no traffic.
 */
export interface SwitchableUpstream {
  readonly url: string;
  readonly port: number;
  mode: 'ok' | 'reset';
  /** Accept times (performance.now()) of connections, by the mode they met. */
  readonly accepted: { readonly ok: number[]; readonly reset: number[] };
  /** Requests answered 200. */
  answered: number;
  setMode(mode: 'ok' | 'reset'): void;
  close(): Promise<void>;
}

export async function startSwitchable(): Promise<SwitchableUpstream> {
  // Nothing here may keep a process alive on its own (the demo flaps it from a timer).
  const sockets = new Set<net.Socket>();
  const state: SwitchableUpstream = {
    url: '',
    port: 0,
    mode: 'ok',
    accepted: { ok: [], reset: [] },
    answered: 0,
    setMode(mode) {
      state.mode = mode;
      if (mode === 'reset') for (const socket of sockets) socket.resetAndDestroy();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
  const server = net.createServer((socket) => {
    state.accepted[state.mode].push(performance.now());
    if (state.mode === 'reset') {
      socket.resetAndDestroy();
      return;
    }
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let pending = '';
    socket.on('data', (chunk: Buffer) => {
      pending += chunk.toString('latin1');
      let end = pending.indexOf('\r\n\r\n');
      while (end !== -1) {
        pending = pending.slice(end + 4);
        state.answered++;
        socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nKeep-Alive: timeout=30\r\n\r\nok');
        end = pending.indexOf('\r\n\r\n');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return Object.assign(state, { url: `http://127.0.0.1:${port}`, port });
}
