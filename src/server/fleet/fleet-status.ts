/**
 * The fleet seen from one place: every live gateway's record (those whose lease still runs) and
 * the revision under the key, each gateway flagged when it does not run that revision.
 */
import type { EtcdClient } from '../../upstream/config-source/etcd-client.ts';
import { type GatewayRecord, gatewaysPrefix, readJson } from './fleet-keys.ts';

export interface FleetStatus {
  readonly key: string;
  /** The revision of the document under the key now (0: none), and etcd's revision at the read. */
  readonly latest: number;
  readonly gateways: readonly (GatewayRecord & { readonly behind: boolean })[];
}

export async function fleetStatus(client: EtcdClient, key: string): Promise<FleetStatus> {
  const [doc, records] = await Promise.all([
    client.range(key),
    client.range(gatewaysPrefix(key), { prefix: true }),
  ]);
  const latest = doc.kvs[0]?.modRevision ?? 0;
  const gateways = records.kvs
    .map((kv) => readJson<GatewayRecord>(kv.value))
    .filter((record): record is GatewayRecord => record !== undefined && typeof record.name === 'string')
    .map((record) => ({ ...record, behind: record.revision !== latest }))
    .sort((a, b) => a.name.localeCompare(b.name));
  return { key, latest, gateways };
}

/** The fleet as lines for a terminal: one per gateway, the ones behind marked. */
export function fleetLines(status: FleetStatus): string {
  const head = `${status.key}: latest revision ${status.latest}, ${status.gateways.length} live gateway(s)\n`;
  const rows = status.gateways.map((g) => {
    const state = g.behind ? `BEHIND: runs revision ${g.revision}` : `revision ${g.revision}`;
    const refused =
      g.refused === undefined
        ? ''
        : `; refused revision ${g.refused.revision} at ${g.refused.at}: ${g.refused.problems[0] ?? ''}`;
    const away = g.unreachable_since === undefined ? '' : `; source unreachable since ${g.unreachable_since}`;
    return `  ${g.name}  ${g.address}  candor ${g.version}  ${state} (since ${g.since})${refused}${away}\n`;
  });
  return head + rows.join('');
}
