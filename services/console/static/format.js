// format.js: times, numbers and labels. Local times are China Standard Time (Asia/Shanghai), as
// the platform's rules use; RFC 3339 goes to the API.

export const TZ = 'Asia/Shanghai';
const OFFSET = '+08:00';

const partsFmt = new Intl.DateTimeFormat('en-CA', {
  timeZone: TZ, year: 'numeric', month: '2-digit', day: '2-digit',
  hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23',
});

function parts(d) {
  const o = {};
  for (const p of partsFmt.formatToParts(d)) o[p.type] = p.value;
  return o;
}

function valid(iso) {
  if (!iso) return null;
  const d = new Date(iso);
  if (Number.isNaN(d.getTime()) || d.getUTCFullYear() < 1971) return null;
  return d;
}

/** fmtTime renders an instant as "2026-11-29 09:25" in China time ("—" when absent). */
export function fmtTime(iso) {
  const d = valid(iso);
  if (!d) return '—';
  const p = parts(d);
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}`;
}

/** fmtShort renders an instant as "09:25" today, "11-28 09:25" this year, else in full. */
export function fmtShort(iso) {
  const d = valid(iso);
  if (!d) return '—';
  const p = parts(d);
  const n = parts(new Date());
  if (p.year === n.year && p.month === n.month && p.day === n.day) return `${p.hour}:${p.minute}`;
  if (p.year === n.year) return `${p.month}-${p.day} ${p.hour}:${p.minute}`;
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}`;
}

/** fmtDate renders the China calendar day of an instant. */
export function fmtDate(iso) {
  const d = valid(iso);
  if (!d) return '—';
  const p = parts(d);
  return `${p.year}-${p.month}-${p.day}`;
}

/** inputValue is a Date as a datetime-local value in China time. */
export function inputValue(d) {
  const p = parts(d);
  return `${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}`;
}

/** today is the current China calendar day, YYYY-MM-DD. */
export function today(offsetDays = 0) {
  const p = parts(new Date(Date.now() + offsetDays * 86400e3));
  return `${p.year}-${p.month}-${p.day}`;
}

/** fromInput turns a datetime-local value (China time) into RFC 3339 ('' when empty). */
export function fromInput(v) {
  if (!v) return '';
  return (v.length === 16 ? v + ':00' : v) + OFFSET;
}

/** ago renders an age in seconds ("just now", "25 s", "3 min", "2 h", "4 d"). */
export function ago(seconds) {
  if (seconds === undefined || seconds === null || Number.isNaN(seconds)) return '';
  const s = Math.max(0, Math.round(seconds));
  if (s < 2) return 'just now';
  if (s < 90) return `${s} s ago`;
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  if (s < 129600) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

/** agoSince renders how long ago an instant was. */
export function agoSince(iso) {
  const d = valid(iso);
  return d ? ago((Date.now() - d.getTime()) / 1000) : '';
}

/** pct renders a share 0..1 as a percentage. */
export function pct(x, digits) {
  if (x === undefined || x === null || Number.isNaN(x)) return '—';
  const v = x * 100;
  const dd = digits ?? (v !== 0 && Math.abs(v) < 10 ? 1 : 0);
  return `${v.toFixed(dd)} %`;
}

/** num renders a number without trailing noise. */
export function num(x) {
  if (x === undefined || x === null || x === '') return '—';
  if (typeof x !== 'number') return String(x);
  return Number.isInteger(x) ? String(x) : String(Math.round(x * 1e4) / 1e4);
}

/** words turns snake_case codes into words ("yellow_green" -> "yellow green"). */
export function words(code) {
  return String(code ?? '').replace(/_/g, ' ');
}

export const PLATE_COLOURS = [
  ['blue', 'Blue', '蓝'], ['yellow', 'Yellow', '黄'], ['green', 'Green', '绿'],
  ['yellow_green', 'Yellow-green', '黄绿'], ['white', 'White', '白'], ['black', 'Black', '黑'],
];

/** colourName renders a plate colour code. */
export function colourName(code) {
  const c = PLATE_COLOURS.find(x => x[0] === code);
  return c ? `${c[1]} ${c[2]}` : words(code);
}
