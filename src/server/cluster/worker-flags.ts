/**
 * The V8 flags a worker starts with (workers.ts gives them to cluster.fork; bench/cost.ts runs
 * its in-process gateway under them too, so what it measures is what a worker does).
 *
 * - `--max-semi-space-size=16`: V8 sizes the young generation from the machine's memory: on a
 *   24 GB host its two semi-spaces grow to 64 MB each under load, and a worker's RSS follows them
 *   to ~280 MB. A request's objects die young, but those of the requests in flight at a scavenge
 *   survive it: at 4 × 100 HTTP/2 streams over TLS (bench/h2.ts) 8 MB semi-spaces made a
 *   scavenge every ~30 ms of 5–7 ms, 16–18 % of the worker's time. 16 MB halves their count; the
 *   peak RSS under bench/memory.ts's load is 114 MiB against 102, the same after the load once
 *   idle-trim.ts has run (75.4 against 74.6).
 * - `--no-allocation-site-pretenuring`: V8 allocates straight into the old generation from a
 *   site whose objects mostly survived their first scavenge. With hundreds of requests in flight
 *   a request's objects do survive one, then die: pretenured, they fill the old generation with
 *   garbage only a mark-compact takes back (12 in 9 s against 4 without) and every allocation
 *   from those sites (node's own nextTick objects among them) takes the slower path. Off, at
 *   4 × 100 streams: 15.3k req/s against 12.7k, the same RSS (medians of 4 alternated rounds).
 *   Over HTTP/1.1 the two flags together measured within the noise of the previous ones (c50,
 *   c200), a new connection a request 2 % better.
 * - `--no-concurrent-recompilation`: optimizing compiles run on the worker's own thread rather
 *   than on a background one: the memory a background compile takes stays with the process,
 *   about 18 MB of a worker's RSS under load (110 → 91 MiB after 5 s of 50 connections), and a
 *   worker compiles its hot code once, in its first seconds (no measurable throughput lost in
 *   10 s runs).
 * - `--no-memory-reducer`: a few seconds into every lull it would shrink the heap as
 *   idle-trim.ts does, and each next burst would start cold (p99 at 200 connections twice the
 *   warm one for its first seconds); the trim alone decides when a worker gives its memory back
 *   (a second after a load, five minutes once bursts come back soon after its trims).
 *
 * Flags can only be set when a process starts, which is why even one worker runs under a primary.
 */
export const WORKER_V8_FLAGS: readonly string[] = [
  '--max-semi-space-size=16',
  '--no-allocation-site-pretenuring',
  '--no-concurrent-recompilation',
  '--no-memory-reducer',
];
