/**
 * The few parts of the DNS wire format (RFC 1035 §4) that DNS-01 needs: a name's labels, a
 * resource record, a message's header and sections, read back with compression pointers
 * followed. Only what an update (RFC 2136), its TSIG (RFC 8945) and a TXT query use.
 */

export const TYPE = { SOA: 6, TXT: 16, NS: 2, A: 1, AAAA: 28, TSIG: 250 } as const;
export const CLASS = { IN: 1, NONE: 254, ANY: 255 } as const;
export const OPCODE = { QUERY: 0, UPDATE: 5 } as const;

/** RFC 1035 §4.1.1, RFC 2136 §2.2 and RFC 8945 §5.3.2's rcodes, by number, as the log names them. */
const RCODES: Record<number, string> = {
  0: 'NOERROR',
  1: 'FORMERR',
  2: 'SERVFAIL',
  3: 'NXDOMAIN',
  4: 'NOTIMP',
  5: 'REFUSED',
  6: 'YXDOMAIN',
  7: 'YXRRSET',
  8: 'NXRRSET',
  9: 'NOTAUTH',
  10: 'NOTZONE',
  16: 'BADSIG',
  17: 'BADKEY',
  18: 'BADTIME',
  22: 'BADTRUNC',
};

export function rcodeName(rcode: number): string {
  return RCODES[rcode] ?? `RCODE${rcode}`;
}

/** A name's wire form, uncompressed; lowercase when `canonical` (RFC 8945 §4.3.3's TSIG variables). */
export function encodeName(name: string, canonical = false): Buffer {
  const labels = name.replace(/\.$/, '').split('.').filter(Boolean);
  const parts: Buffer[] = [];
  for (const label of labels) {
    const bytes = Buffer.from(canonical ? label.toLowerCase() : label, 'ascii');
    if (bytes.length > 63) throw new Error(`a DNS label longer than 63 bytes: ${label}`);
    parts.push(Buffer.from([bytes.length]), bytes);
  }
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

export interface ResourceRecord {
  readonly name: string;
  readonly type: number;
  readonly class: number;
  readonly ttl: number;
  readonly data: Buffer;
}

export function encodeRecord(record: ResourceRecord): Buffer {
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(record.type, 0);
  fixed.writeUInt16BE(record.class, 2);
  fixed.writeUInt32BE(record.ttl, 4);
  fixed.writeUInt16BE(record.data.length, 8);
  return Buffer.concat([encodeName(record.name), fixed, record.data]);
}

/** A TXT record's data: one character-string (a DNS-01 value is 43 bytes, under the 255 a string holds). */
export function txtData(text: string): Buffer {
  const bytes = Buffer.from(text, 'ascii');
  return Buffer.concat([Buffer.from([bytes.length]), bytes]);
}

export interface Question {
  readonly name: string;
  readonly type: number;
  readonly class: number;
}

export function encodeQuestion(question: Question): Buffer {
  const fixed = Buffer.alloc(4);
  fixed.writeUInt16BE(question.type, 0);
  fixed.writeUInt16BE(question.class, 2);
  return Buffer.concat([encodeName(question.name), fixed]);
}

/** A message's header (RFC 1035 §4.1.1) with its four counts; an update names them zone, prerequisite, update, additional. */
export function encodeHeader(
  id: number,
  opcode: number,
  counts: readonly [number, number, number, number],
): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(opcode << 11, 2);
  counts.forEach((count, i) => {
    header.writeUInt16BE(count, 4 + 2 * i);
  });
  return header;
}

/** A record as read: `at` is where its data begins in the message (its names may point back into it). */
export interface DecodedRecord extends ResourceRecord {
  readonly at: number;
}

export interface DecodedMessage {
  readonly message: Buffer;
  readonly id: number;
  readonly rcode: number;
  readonly truncated: boolean;
  /** The AA bit: the server answers from a zone of its own (not a referral, RFC 1035 §4.1.1). */
  readonly authoritative: boolean;
  readonly answers: readonly DecodedRecord[];
  readonly authority: readonly DecodedRecord[];
  readonly additional: readonly DecodedRecord[];
  /** Where the additional section's last record (a TSIG, when signed) begins in the message. */
  readonly lastRecordOffset: number;
}

/** Reads a whole message; throws on one cut short or whose names loop. */
export function decodeMessage(message: Buffer): DecodedMessage {
  if (message.length < 12)
    throw new Error(`a DNS message of ${message.length} bytes (under its 12-byte header)`);
  const flags = message.readUInt16BE(2);
  const counts = [4, 6, 8, 10].map((at) => message.readUInt16BE(at));
  let offset = 12;
  for (let i = 0; i < (counts[0] ?? 0); i++) offset = readName(message, offset).next + 4;
  const sections: DecodedRecord[][] = [[], [], []];
  let lastRecordOffset = offset;
  for (const [s, section] of sections.entries())
    for (let i = 0; i < (counts[s + 1] ?? 0); i++) {
      lastRecordOffset = offset;
      const { name, next } = readName(message, offset);
      if (next + 10 > message.length) throw new Error('a DNS record cut short');
      const length = message.readUInt16BE(next + 8);
      const dataAt = next + 10;
      if (dataAt + length > message.length) throw new Error('a DNS record cut short');
      section.push({
        name,
        type: message.readUInt16BE(next),
        class: message.readUInt16BE(next + 2),
        ttl: message.readUInt32BE(next + 4),
        data: message.subarray(dataAt, dataAt + length),
        at: dataAt,
      });
      offset = dataAt + length;
    }
  return {
    message,
    id: message.readUInt16BE(0),
    rcode: flags & 0x0f,
    truncated: (flags & 0x0200) !== 0,
    authoritative: (flags & 0x0400) !== 0,
    answers: sections[0] ?? [],
    authority: sections[1] ?? [],
    additional: sections[2] ?? [],
    lastRecordOffset,
  };
}

/** A name at `offset` (pointers followed, a bounded number of times), and where what follows it begins. */
export function readName(message: Buffer, offset: number): { name: string; next: number } {
  const labels: string[] = [];
  let at = offset;
  let next: number | undefined;
  for (let jumps = 0; ; ) {
    if (at >= message.length) throw new Error('a DNS name cut short');
    const length = message[at] ?? 0;
    if (length === 0) {
      next ??= at + 1;
      break;
    }
    if ((length & 0xc0) === 0xc0) {
      if (++jumps > 32 || at + 1 >= message.length) throw new Error('a DNS name whose pointers loop');
      next ??= at + 2;
      at = ((length & 0x3f) << 8) | (message[at + 1] ?? 0);
      continue;
    }
    if (at + 1 + length > message.length) throw new Error('a DNS name cut short');
    labels.push(message.toString('latin1', at + 1, at + 1 + length));
    at += 1 + length;
  }
  return { name: labels.join('.'), next };
}

/** The strings of a TXT record's data, joined (RFC 7208 §3.3's reading of a long value). */
export function txtText(data: Buffer): string {
  let text = '';
  for (let at = 0; at < data.length; ) {
    const length = data[at] ?? 0;
    text += data.toString('latin1', at + 1, at + 1 + length);
    at += 1 + length;
  }
  return text;
}

/** Two names equal as DNS compares them: case aside, a final dot aside. */
export function sameName(a: string, b: string): boolean {
  return a.replace(/\.$/, '').toLowerCase() === b.replace(/\.$/, '').toLowerCase();
}
