// The activity: the chart of the last five minutes' answers by who made them, the series table,
// the changes on the gateway's timeline and the latest failures.
import { $, clock, el, swatch } from './dom.js';

/** The chart's width in seconds: the window each worker keeps (metrics/activity.ts). */
export const WINDOW_S = 300;

const SVG = 'http://www.w3.org/2000/svg';
const svg = (tag, attrs) => {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  return node;
};

/** Answers the upstream made are green, the gateway's failures warm colours, clients' grey. */
function colour(series, index) {
  if (series === 'upstream') return '#2da44e';
  if (series.startsWith('client')) return '#8c959f';
  if (series.startsWith('upstream ')) return '#8250df';
  const warm = ['#cf222e', '#e16f24', '#bf8700', '#a40e26', '#fb8f44', '#953800'];
  return warm[index % warm.length];
}

/** Each kind of change its colour, on the chart and in the list. */
const EVENT_COLOURS = {
  reload: '#0969da',
  admin: '#8250df',
  discovery: '#1a7f37',
  health: '#cf222e',
  canary: '#bf8700',
  // A worker of --workers N that died: what it held was cut.
  worker: '#24292f',
};

export function renderActivity(activity, events) {
  const now = Math.floor(activity.now);
  const totals = new Map();
  const sum = (series, from) => {
    let n = 0;
    for (const s of activity.per_second) if (s.t >= from && s.t <= now) n += s.counts[series] ?? 0;
    return n;
  };
  for (const s of activity.per_second)
    for (const [series, n] of Object.entries(s.counts)) totals.set(series, (totals.get(series) ?? 0) + n);
  const names = [...totals.keys()].sort((a, b) =>
    a === 'upstream' ? -1 : b === 'upstream' ? 1 : totals.get(b) - totals.get(a),
  );
  const colours = new Map(names.map((name, i) => [name, colour(name, i)]));

  // The rate "now" averages the last five whole seconds (the current one is still filling):
  // their sum over 5, to one decimal.
  const rows = names.map((series) =>
    el(
      'tr',
      { 'data-series': series },
      el('td', { class: 'mono' }, swatch(colours.get(series)), series),
      el('td', { class: 'rate' }, String(Math.round((sum(series, now - 5) - sum(series, now)) * 2) / 10)),
      el('td', { class: 'last-minute' }, String(sum(series, now - 59))),
      el('td', { class: 'last-5-minutes' }, String(totals.get(series))),
    ),
  );
  if (rows.length === 0)
    rows.push(el('tr', {}, el('td', { colspan: 4, class: 'empty' }, 'No answers in the last 5 minutes.')));
  $('series').tBodies[0].replaceChildren(...rows);
  // Changes on the gateway's clock, as the bars: seconds before its `now`.
  const changes = events
    .map((e) => ({ ...e, age: activity.now - Date.parse(e.at) / 1000 }))
    .filter((e) => e.age >= 0 && e.age < WINDOW_S);
  $('chart').replaceChildren(chart(activity.per_second, names, colours, now, changes));
  const changeRows = changes
    .toReversed()
    .map((e) =>
      el(
        'tr',
        { 'data-kind': e.kind },
        el('td', {}, clock(e.at)),
        el('td', {}, swatch(EVENT_COLOURS[e.kind] ?? '#57606a'), e.kind),
        el('td', { class: 'mono summary' }, e.summary),
      ),
    );
  if (changeRows.length === 0)
    changeRows.push(
      el('tr', {}, el('td', { colspan: 3, class: 'empty' }, 'No change in the last 5 minutes.')),
    );
  $('events').tBodies[0].replaceChildren(...changeRows);

  const failures = activity.failures.map((f) =>
    el(
      'tr',
      { 'data-req-id': f.req_id },
      el('td', {}, clock(f.at)),
      el('td', { class: 'mono req-id' }, f.req_id),
      el('td', {}, String(f.status)),
      el('td', {}, f.origin),
      el('td', { class: 'mono error' }, f.error),
      el('td', {}, f.shape),
      el('td', { class: 'mono' }, f.route ?? ''),
      // The hop that failed first: an auth hop's or a plugin's hop's failure is no target's.
      el('td', { class: 'mono' }, f.auth_hop ?? f.plugin_hop ?? f.target ?? f.upstream ?? ''),
      el('td', { class: 'details' }, f.details),
    ),
  );
  if (failures.length === 0)
    failures.push(el('tr', {}, el('td', { colspan: 9, class: 'empty' }, 'No failure yet.')));
  $('failures').tBodies[0].replaceChildren(...failures);
}

/** Stacked bars, one per second, the newest on the right; a dashed line at each change, its words on hover. */
function chart(perSecond, names, colours, now, changes) {
  const width = 900;
  const height = 180;
  const bottom = height - 18;
  const barWidth = width / WINDOW_S;
  // The busiest second's answers, as the label says them (0 with none: not the 1 the bars
  // divide by so that an empty chart has a scale).
  let most = 0;
  for (const s of perSecond) {
    let total = 0;
    for (const n of Object.values(s.counts)) total += n;
    most = Math.max(most, total);
  }
  const peak = Math.max(1, most);
  const root = svg('svg', { viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: 'none', role: 'img' });
  root.append(svg('line', { x1: 0, x2: width, y1: bottom, y2: bottom, stroke: '#d9dee5' }));
  for (const s of perSecond) {
    const age = now - s.t;
    if (age < 0 || age >= WINDOW_S) continue;
    const x = width - (age + 1) * barWidth;
    let y = bottom;
    for (const name of names) {
      const n = s.counts[name] ?? 0;
      if (n === 0) continue;
      const h = (n / peak) * (bottom - 14);
      y -= h;
      root.append(svg('rect', { x, y, width: barWidth, height: h, fill: colours.get(name) }));
    }
  }
  for (const change of changes) {
    const x = width - change.age * barWidth;
    const line = svg('line', {
      x1: x,
      x2: x,
      y1: 14,
      y2: bottom,
      stroke: EVENT_COLOURS[change.kind] ?? '#57606a',
      class: 'event',
      'data-kind': change.kind,
      'data-at': change.at,
    });
    const title = svg('title', {});
    title.textContent = `${clock(change.at)} ${change.summary}`;
    line.append(title);
    root.append(line);
  }
  const label = (x, text, anchor) => {
    const node = svg('text', { x, y: height - 4, 'text-anchor': anchor });
    node.textContent = text;
    root.append(node);
  };
  for (let minute = 5; minute >= 1; minute--)
    label(width - (minute * 60 * width) / WINDOW_S, `-${minute} min`, 'start');
  label(width - 2, 'now', 'end');
  const top = svg('text', { x: 4, y: 12 });
  top.textContent = `peak ${most}/s`;
  root.append(top);
  return root;
}
