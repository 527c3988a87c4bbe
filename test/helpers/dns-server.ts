import dgram from 'node:dgram';
import { isIPv6 } from 'node:net';

/** One record of an answer, as the test sets it. */
export type DnsRecord =
  | { readonly type: 'A' | 'AAAA'; readonly address: string; readonly ttl: number }
  | {
      readonly type: 'SRV';
      readonly target: string;
      readonly port: number;
      readonly priority?: number;
      readonly weight?: number;
      readonly ttl: number;
    }
  /** An alias, answered to a question of any type; `name`: the owner, when not the question's (a chain's next link). */
  | { readonly type: 'CNAME'; readonly target: string; readonly ttl: number; readonly name?: string };

/**
 * What a name answers: its records (none: an empty NOERROR answer), a failure code, nothing
 * ever (`silent`), over UDP an empty answer with the TC bit (`truncated`: "ask again over
 * TCP", where this server has no listener), or forged answers (`forged`).
 */
export type DnsAnswer =
  | readonly DnsRecord[]
  | 'servfail'
  | 'refused'
  | 'nxdomain'
  | 'silent'
  | 'truncated'
  | {
      /**
       * Forged answers only, giving this IPv4 address: one of another question ID, one of
       * another name than asked (what an off-path spoofer guessing would send); the true
       * answer never comes.
       */
      readonly forged: string;
    };

export interface DnsServer {
  /** `127.0.0.1:port`, as `resolvers:` takes it. */
  readonly address: string;
  /** Questions received so far, as `NAME TYPE`. */
  readonly questions: string[];
  /** Sets what `name` answers from now on (records of other types than the question's are left out). */
  set(name: string, answer: DnsAnswer): void;
  close(): Promise<void>;
}

const TYPES = { A: 1, AAAA: 28, SRV: 33, CNAME: 5 } as const;
const NAMES: Record<number, string> = { 1: 'A', 28: 'AAAA', 33: 'SRV', 5: 'CNAME' };

/**
 * An authoritative DNS server on loopback UDP for tests, written on node:dgram: it answers A,
 * AAAA and SRV questions from a table the test changes while it runs (with TTLs), so the
 * gateway's discovery is tested against real packets on a real socket, never a mocked resolver.
 */
export async function startDnsServer(port = 0, host = '127.0.0.1'): Promise<DnsServer> {
  const socket = dgram.createSocket('udp4');
  const table = new Map<string, DnsAnswer>();
  const questions: string[] = [];
  socket.on('message', (packet, peer) => {
    for (const reply of answer(packet, table, questions)) socket.send(reply, peer.port, peer.address);
  });
  // `port` 53: the system resolver's own port, in a namespace whose resolv.conf names 127.0.0.1.
  await new Promise<void>((resolve) => socket.bind(port, host, resolve));
  return {
    address: `${host}:${socket.address().port}`,
    questions,
    set: (name, records) => table.set(name.toLowerCase(), records),
    close: () => new Promise((resolve) => socket.close(() => resolve())),
  };
}

function answer(packet: Buffer, table: Map<string, DnsAnswer>, questions: string[]): Buffer[] {
  if (packet.length < 12) return [];
  const id = packet.readUInt16BE(0);
  const flags = packet.readUInt16BE(2);
  if (flags & 0x8000 || packet.readUInt16BE(4) !== 1) return [];
  const { name, end } = readName(packet, 12);
  if (end + 4 > packet.length) return [];
  const qtype = packet.readUInt16BE(end);
  const question = packet.subarray(12, end + 4);
  questions.push(`${name} ${NAMES[qtype] ?? qtype}`);
  const found = table.get(name.toLowerCase());
  if (found === 'silent') return [];
  if (typeof found === 'object' && 'forged' in found) {
    const record: DnsRecord = { type: 'A', address: found.forged, ttl: 30 };
    const otherName = Buffer.concat([encodeName(`x${name}`), question.subarray(question.length - 4)]);
    return [reply((id + 1) & 0xffff, flags, 0, question, [record]), reply(id, flags, 0, otherName, [record])];
  }
  const rcode =
    found === 'servfail' ? 2 : found === 'refused' ? 5 : found === 'nxdomain' || found === undefined ? 3 : 0;
  const records: readonly DnsRecord[] =
    typeof found === 'object' ? found.filter((r) => r.type === 'CNAME' || TYPES[r.type] === qtype) : [];
  // The TC bit: "ask again over TCP".
  const truncated = found === 'truncated' ? 0x0200 : 0;
  return [reply(id, flags, rcode | truncated, question, records)];
}

/** An answer: QR, authoritative, the question's RD, recursion available, and `bits` (the code, TC). */
function reply(
  id: number,
  flags: number,
  bits: number,
  question: Buffer,
  records: readonly DnsRecord[],
): Buffer {
  const head = Buffer.alloc(12);
  head.writeUInt16BE(id, 0);
  head.writeUInt16BE(0x8000 | 0x0400 | (flags & 0x0100) | 0x0080 | bits, 2);
  head.writeUInt16BE(1, 4);
  head.writeUInt16BE(records.length, 6);
  return Buffer.concat([head, question, ...records.map(encodeRecord)]);
}

function encodeRecord(record: DnsRecord): Buffer {
  let data: Buffer;
  if (record.type === 'CNAME') data = encodeName(record.target);
  else if (record.type === 'SRV') {
    const fixed = Buffer.alloc(6);
    fixed.writeUInt16BE(record.priority ?? 0, 0);
    fixed.writeUInt16BE(record.weight ?? 1, 2);
    fixed.writeUInt16BE(record.port, 4);
    data = Buffer.concat([fixed, encodeName(record.target)]);
  } else if (record.type === 'A') data = Buffer.from(record.address.split('.').map(Number));
  else data = ipv6Bytes(record.address);
  // The owner name: a pointer to the question's name, at offset 12, or a name of its own.
  const owner =
    'name' in record && record.name !== undefined ? encodeName(record.name) : Buffer.from([0xc0, 0x0c]);
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(TYPES[record.type], 0);
  fixed.writeUInt16BE(1, 2);
  fixed.writeUInt32BE(record.ttl, 4);
  fixed.writeUInt16BE(data.length, 8);
  return Buffer.concat([owner, fixed, data]);
}

function encodeName(name: string): Buffer {
  const labels = name.replace(/\.$/, '').split('.').filter(Boolean);
  return Buffer.concat([
    ...labels.map((label) => Buffer.concat([Buffer.from([label.length]), Buffer.from(label, 'ascii')])),
    Buffer.from([0]),
  ]);
}

function readName(packet: Buffer, offset: number): { name: string; end: number } {
  const labels: string[] = [];
  let at = offset;
  while (at < packet.length && packet[at] !== 0) {
    const length = packet[at];
    labels.push(packet.toString('ascii', at + 1, at + 1 + length));
    at += 1 + length;
  }
  return { name: labels.join('.'), end: at + 1 };
}

function ipv6Bytes(address: string): Buffer {
  if (!isIPv6(address)) throw new Error(`not an IPv6 address: ${address}`);
  const [left, right = ''] = address.split('::');
  // An IPv4 tail (`::ffff:10.0.0.5`) is two groups: read as one hex group, it was written as 0x1000.
  const groups = (part: string) =>
    part === ''
      ? []
      : part.split(':').flatMap((group) => {
          if (!group.includes('.')) return [group];
          const [a, b, c, d] = group.split('.').map(Number);
          return [((a << 8) | b).toString(16), ((c << 8) | d).toString(16)];
        });
  const head = groups(left);
  const tail = address.includes('::') ? groups(right) : [];
  const middle = Array(8 - head.length - tail.length).fill('0');
  const bytes = Buffer.alloc(16);
  for (const [i, group] of [...head, ...middle, ...tail].entries())
    bytes.writeUInt16BE(Number.parseInt(group, 16), i * 2);
  return bytes;
}
