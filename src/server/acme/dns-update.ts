import { randomInt } from 'node:crypto';
import { AcmeProblem } from './acme-problem.ts';
import { badAnswer, type DnsServer, dnsExchange, serverLabel } from './dns-exchange.ts';
import {
  CLASS,
  type DecodedMessage,
  decodeMessage,
  encodeHeader,
  encodeQuestion,
  encodeRecord,
  OPCODE,
  rcodeName,
  TYPE,
  txtData,
} from './dns-wire.ts';
import { signMessage, type TsigKey, type TsigVerdict, verifyAnswer } from './tsig.ts';

/** The TXT record's time to live: short, for a record that lives only while the CA validates. */
const TXT_TTL_S = 60;

export interface TxtChange {
  readonly server: DnsServer;
  readonly zone: string;
  readonly key: TsigKey;
  /** The record's owner, `_acme-challenge.NAME`. */
  readonly name: string;
  readonly value: string;
  readonly signal?: AbortSignal;
}

/**
 * Adds (`add`) or deletes (`delete`) one TXT record by a dynamic update (RFC 2136 §2.5.1,
 * §2.5.4) signed with TSIG (RFC 8945): only that value, so another order's record beside it (a
 * wildcard's and its apex's share `_acme-challenge.NAME`) stays. The server's refusal is told
 * with its rcode and, when the key was the trouble, the TSIG error (`NOTAUTH (TSIG BADSIG)`);
 * an answer not signed with the key is not believed.
 */
export async function updateTxt(change: TxtChange, action: 'add' | 'delete'): Promise<void> {
  const { server, zone, key, name, value } = change;
  const id = randomInt(0x10000);
  const record = encodeRecord(
    action === 'add'
      ? { name, type: TYPE.TXT, class: CLASS.IN, ttl: TXT_TTL_S, data: txtData(value) }
      : { name, type: TYPE.TXT, class: CLASS.NONE, ttl: 0, data: txtData(value) },
  );
  const message = Buffer.concat([
    encodeHeader(id, OPCODE.UPDATE, [1, 0, 1, 0]),
    encodeQuestion({ name: zone, type: TYPE.SOA, class: CLASS.IN }),
    record,
  ]);
  const { signed, mac } = signMessage(message, key);
  const label = serverLabel(server);
  const raw = await dnsExchange(server, signed, change.signal);
  const answer = decoded(raw, id, label);
  let tsig: TsigVerdict;
  try {
    tsig = verifyAnswer(raw, answer, key, mac);
  } catch (err) {
    throw badAnswer(label, `sent a TSIG record that cannot be read (${(err as Error).message})`);
  }
  const what = `the ${action === 'add' ? 'addition' : 'removal'} of ${name} TXT in zone ${zone}`;
  if (answer.rcode !== 0 || tsig.error !== 0) {
    const cause = tsig.error === 0 ? '' : ` (TSIG ${rcodeName(tsig.error)})`;
    throw new AcmeProblem(
      'candor:dns-refused',
      `the DNS server ${label} refused ${what}: ${rcodeName(answer.rcode)}${cause}`,
      0,
    );
  }
  if (!tsig.verified)
    throw badAnswer(label, `its answer to ${what} is not signed with the key ${key.name}${unverified(tsig)}`);
}

/** Why a signed answer is not believed: another MAC, or the key's signed outside its fudge. */
function unverified({ signed, late }: TsigVerdict): string {
  if (late !== undefined)
    return ` (signed ${Math.abs(late.seconds)} s ${late.seconds > 0 ? 'before' : 'after'} this host's clock, past its fudge of ${late.fudge} s: a replay, or clocks apart)`;
  return signed ? ' (its MAC does not match)' : '';
}

/** An unsigned query (RFC 1035 §4.1.2) of `name`'s records of `type`, the answer as sent. */
export async function query(
  server: DnsServer,
  name: string,
  type: number,
  signal?: AbortSignal,
  timeoutMs?: number,
): Promise<DecodedMessage> {
  const id = randomInt(0x10000);
  const message = Buffer.concat([
    encodeHeader(id, OPCODE.QUERY, [1, 0, 0, 0]),
    encodeQuestion({ name, type, class: CLASS.IN }),
  ]);
  return decoded(await dnsExchange(server, message, signal, timeoutMs), id, serverLabel(server));
}

function decoded(raw: Buffer, id: number, label: string): DecodedMessage {
  let answer: DecodedMessage;
  try {
    answer = decodeMessage(raw);
  } catch (err) {
    throw badAnswer(label, `sent no DNS message (${(err as Error).message})`);
  }
  if (answer.id !== id) throw badAnswer(label, `answered another message (id ${answer.id}, not ${id})`);
  return answer;
}
