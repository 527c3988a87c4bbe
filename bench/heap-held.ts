/**
 * What a set of objects alone keeps alive in a V8 heap snapshot, by kind: the objects reachable
 * from the heap's roots only through a member of the set (the classes named by `--set`), summed
 * by type and name, per instance of the class named by `--per`. Taken while requests are in
 * flight, it is what each holds while it is (what a scavenge copies, once or twice, for every
 * request in flight at the time; issue 61: 4 × 100 HTTP/2 streams, bench/h2.ts's shape):
 *
 *   NODE_OPTIONS=--heapsnapshot-signal=SIGUSR2 node bin/candor.js serve --config … --workers 1
 *   h2load -c 4 -m 100 -D 6s https://127.0.0.1:PORT/small   # and meanwhile: kill -USR2 <worker pid>
 *   node bench/heap-held.ts Heap.….heapsnapshot --per=ServerHttp2Stream \
 *     --set=ServerHttp2Stream,Http2Stream,H2Answer,H2Exchange,RequestSession,Exchange,RequestRecord,Attempts,Attempt,UpstreamRequest
 *
 * Members are objects (instances) whose constructor has one of the names, not the classes
 * themselves. Native (C++) objects are not counted: they are not in V8's heap. Prints a table;
 * writes nothing.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface Snapshot {
  snapshot: {
    meta: {
      node_fields: string[];
      node_types: [string[]];
      edge_fields: string[];
      edge_types: [string[]];
    };
  };
  nodes: number[];
  edges: number[];
  strings: string[];
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { per: { type: 'string' }, set: { type: 'string' }, top: { type: 'string', default: '40' } },
});
if (positionals.length !== 1 || values.per === undefined || values.set === undefined)
  throw new Error(
    'usage: node bench/heap-held.ts FILE.heapsnapshot --per=CLASS --set=CLASS,CLASS… [--top=N]',
  );
const members = new Set(values.set.split(','));
const s = JSON.parse(readFileSync(positionals[0], 'utf8')) as Snapshot;
const { meta } = s.snapshot;
const [NF, EF] = [meta.node_fields.length, meta.edge_fields.length];
const [nType, nName, nEdges, nSize] = ['type', 'name', 'edge_count', 'self_size'].map((f) =>
  meta.node_fields.indexOf(f),
);
const [eType, eTo] = [meta.edge_fields.indexOf('type'), meta.edge_fields.indexOf('to_node')];
const { nodes, edges, strings } = s;
const count = nodes.length / NF;
const typeOf = (i: number) => meta.node_types[0][nodes[i * NF + nType]];
const nameOf = (i: number) => strings[nodes[i * NF + nName]];
/** Weak edges hold nothing; shortcuts repeat another path. */
const skipped = new Set([meta.edge_types[0].indexOf('weak'), meta.edge_types[0].indexOf('shortcut')]);
/** Where each node's edges start in `edges` (a node's edges follow its predecessor's). */
const firstEdge = new Uint32Array(count + 1);
for (let i = 0; i < count; i++) firstEdge[i + 1] = firstEdge[i] + nodes[i * NF + nEdges] * EF;
const isMember = (i: number) => typeOf(i) === 'object' && members.has(nameOf(i));

/** What is reachable from the roots (node 0), not entering members when `around` is set. */
function reachable(around: boolean): Uint8Array {
  const seen = new Uint8Array(count);
  const stack = [0];
  seen[0] = 1;
  while (stack.length > 0) {
    const v = stack.pop() as number;
    for (let e = firstEdge[v]; e < firstEdge[v + 1]; e += EF) {
      if (skipped.has(edges[e + eType])) continue;
      const w = edges[e + eTo] / NF;
      if (seen[w] === 1 || (around && isMember(w))) continue;
      seen[w] = 1;
      stack.push(w);
    }
  }
  return seen;
}

const all = reachable(false);
const without = reachable(true);
let per = 0;
const kinds = new Map<string, { objects: number; bytes: number }>();
let total = 0;
for (let i = 0; i < count; i++) {
  if (all[i] === 0) continue;
  if (typeOf(i) === 'object' && nameOf(i) === values.per) per++;
  const type = typeOf(i);
  if (without[i] === 1 || type === 'native') continue;
  // Strings and numbers go by their kind alone: their "names" are their values.
  const key = type === 'object' || type === 'closure' ? `${type} ${nameOf(i).slice(0, 48)}` : type;
  const kind = kinds.get(key) ?? { objects: 0, bytes: 0 };
  kind.objects++;
  kind.bytes += nodes[i * NF + nSize];
  kinds.set(key, kind);
  total += nodes[i * NF + nSize];
}
if (per === 0) throw new Error(`no ${values.per} in the snapshot`);
process.stdout.write(
  `${per} ${values.per}; what the set alone keeps: ${Math.round(total / per)} bytes of V8 heap each\n\n` +
    `| kind | bytes each | objects each |\n|---|--:|--:|\n`,
);
const rows = [...kinds].filter(([, kind]) => kind.bytes >= per).sort((a, b) => b[1].bytes - a[1].bytes);
for (const [key, { objects, bytes }] of rows.slice(0, Number(values.top)))
  process.stdout.write(`| ${key} | ${(bytes / per).toFixed(0)} | ${(objects / per).toFixed(2)} |\n`);
