/**
 * A bidirectional gRPC call left idle: its upstream answered the client's last message and waits
 * for the next, the client's side still open. Past timeouts.read the call is cut (the client reads
 * DEADLINE_EXCEEDED, connection_read_timeout), but the silence was the client's turn: it judges no
 * target. An upstream that owes an answer (the client's message came after its last bytes) and
 * stays silent is judged as ever. @grpc/grpc-js client and server, through a real gateway.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { startTestGateway, type TestGateway } from '../../../helpers/test-gateway.ts';

const identity = (value: Buffer) => value;

/** Answers each message with "re: …", but for "ignore", which it leaves unanswered. */
const talkIn = (path: string): grpc.MethodDefinition<Buffer, Buffer> => ({
  path,
  requestStream: true,
  responseStream: true,
  requestSerialize: identity,
  requestDeserialize: identity,
  responseSerialize: identity,
  responseDeserialize: identity,
});

let server: grpc.Server | undefined;
let gw: TestGateway | undefined;
let client: grpc.Client | undefined;

before(async () => {
  server = new grpc.Server();
  const talk = (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
    call.on('data', (message: Buffer) => {
      if (message.toString() !== 'ignore') call.write(Buffer.from(`re: ${message.toString()}`));
    });
    call.on('end', () => call.end());
  };
  server.addService(
    { Idle: talkIn('/idle.Room/Talk'), Owed: talkIn('/owed.Room/Talk') },
    { Idle: talk, Owed: talk },
  );
  const port = await new Promise<number>((resolve, reject) =>
    server?.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, bound) =>
      err ? reject(err) : resolve(bound),
    ),
  );
  // Two upstreams on the same server, so that one's ejection leaves the other's test alone.
  const upstream = `    protocol: h2c
    targets: [{ url: "http://127.0.0.1:${port}" }]
    timeouts: { read: 300ms }
    outlier_detection: { consecutive_failures: 1, base_ejection_time: 30s }
    panic_threshold: 0
`;
  gw = await startTestGateway(
    `name: edge-1
routes:
  - { match: { path: /owed.Room }, upstream: owed }
  - { match: { path: /idle.Room }, upstream: idle }
upstreams:
  idle:
${upstream}  owed:
${upstream}`,
    {},
    'http2: true',
  );
  client = new grpc.Client(`127.0.0.1:${gw.port}`, grpc.credentials.createInsecure());
});

after(async () => {
  client?.close();
  await gw?.close();
  server?.forceShutdown();
});

/** A call that says `lines` in turn, each once the answer to the one before came, then waits without ending its side. */
function talk(room: string, lines: string[]): Promise<grpc.StatusObject & { answers: string[] }> {
  return new Promise((resolve) => {
    const call = client!.makeBidiStreamRequest(`/${room}.Room/Talk`, identity, identity, {
      deadline: Date.now() + 5000,
    });
    const answers: string[] = [];
    call.on('data', (answer: Buffer) => {
      answers.push(answer.toString());
      if (answers.length < lines.length) call.write(Buffer.from(lines[answers.length]));
    });
    call.on('error', () => {});
    call.on('status', (status: grpc.StatusObject) => resolve({ ...status, answers }));
    call.write(Buffer.from(lines[0]));
  });
}

test("a call idle on the client's turn is cut at timeouts.read, DEADLINE_EXCEEDED, and judges no target", async () => {
  const idle = await talk('idle', ['hello']);
  assert.equal(idle.code, grpc.status.DEADLINE_EXCEEDED);
  assert.deepEqual(idle.answers, ['re: hello']);
  assert.match(
    idle.details,
    /^connection_read_timeout: response body stalled \(read timeout of 300 ms\) after [0-9.]+ ms; the upstream had answered the client's last message, and the client had not ended its side \(its turn to speak\) \(request id [^)]+\)$/,
  );
  // Outlier detection ejects after one failure: the target must still be in rotation (it was
  // ejected, and the next call was UNAVAILABLE destination_unavailable).
  const next = await talk('idle', ['again']);
  assert.equal(next.code, grpc.status.DEADLINE_EXCEEDED, next.details);
  assert.deepEqual(next.answers, ['re: again']);
});

test('a call whose upstream owes an answer and stays silent is cut at timeouts.read and judges the target', async () => {
  const owed = await talk('owed', ['hello', 'ignore']);
  assert.equal(owed.code, grpc.status.DEADLINE_EXCEEDED);
  assert.deepEqual(owed.answers, ['re: hello']);
  assert.match(
    owed.details,
    /^connection_read_timeout: response body stalled \(read timeout of 300 ms\) after [0-9.]+ ms \(request id /,
  );
  const next = await talk('owed', ['again']);
  assert.equal(next.code, grpc.status.UNAVAILABLE);
  assert.match(next.details, /^destination_unavailable: no target of "owed" is in rotation/);
});
