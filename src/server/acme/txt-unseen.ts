import { type DecodedMessage, rcodeName, readName, sameName, TYPE, txtText } from './dns-wire.ts';

const CNAME = 5;
/** RFC 1035 §4.1.1's name error: the name is not there yet, as before any record of it is. */
const NXDOMAIN = 3;

/**
 * Why an authoritative server's answer to the TXT question of `name` does not hold `value`, or
 * undefined when it does. Said in the order's `candor:dns-propagation`, server by server: a
 * wait that ends only in "not seen" leaves the operator to guess at shapes the answer shows.
 * An alias (CNAME) at the name keeps the update's TXT record from ever being there (RFC 2136
 * §3.4.2.2: a server ignores it), and the CA follows the alias; a referral says the name is in
 * a zone of its own, below `zone`, where the update's record is never served.
 */
export function txtUnseen(
  answer: DecodedMessage,
  name: string,
  value: string,
  zone: string,
): string | undefined {
  const here = answer.answers.filter((r) => sameName(r.name, name));
  if (here.some((r) => r.type === TYPE.TXT && txtText(r.data) === value)) return undefined;
  if (answer.rcode !== 0 && answer.rcode !== NXDOMAIN) return `it answers ${rcodeName(answer.rcode)}`;
  const alias = here.find((r) => r.type === CNAME);
  if (alias !== undefined)
    return `it answers that the name is an alias (CNAME) of ${readName(answer.message, alias.at).name}, beside which a TXT record is not kept: the CA follows the alias out of acme.dns01.zone ${zone}`;
  const cut = answer.authority.find((r) => r.type === TYPE.NS && !sameName(r.name, zone));
  if (!answer.authoritative && cut !== undefined)
    return `it answers with a referral to the servers of ${cut.name}: the name is in that zone, not in acme.dns01.zone ${zone}`;
  const others = here.filter((r) => r.type === TYPE.TXT).length;
  if (others > 0) return `it has ${others} other TXT value${others === 1 ? '' : 's'} there, not this one`;
  return answer.rcode === NXDOMAIN ? 'it has no such name (NXDOMAIN)' : 'it has no TXT record there';
}
