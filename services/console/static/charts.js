// charts.js draws small SVG charts sized to their container (redrawn when its width changes),
// each with a title and description for screen readers and the numbers in a table beside it.
import {h, s} from './dom.js';

/** textWidth estimates the width of a string in px (Han characters are square). */
export function textWidth(str, size = 12) {
  let w = 0;
  for (const ch of String(str)) w += ch.codePointAt(0) > 0x2e80 ? size : size * 0.6;
  return w;
}

/** fit cuts str with an ellipsis to fit px. */
export function fit(str, px, size = 12) {
  str = String(str);
  if (textWidth(str, size) <= px) return str;
  let out = '';
  for (const ch of str) {
    if (textWidth(out + ch + '…', size) > px) break;
    out += ch;
  }
  return out + '…';
}

let uid = 0;

/** responsive calls draw(width) to fill container now and whenever its width changes. */
export function responsive(container, draw) {
  let last = 0;
  const redraw = () => {
    const w = Math.max(260, Math.floor(container.clientWidth || 0));
    if (!container.clientWidth || Math.abs(w - last) < 12) return;
    last = w;
    container.replaceChildren(draw(w));
  };
  new ResizeObserver(redraw).observe(container);
  return container;
}

function frame(width, height, title, desc) {
  uid += 1;
  const tid = `chart-t${uid}`;
  const did = `chart-d${uid}`;
  return s('svg', {class: 'chart', viewBox: `0 0 ${width} ${height}`, width, height, role: 'img', 'aria-labelledby': `${tid} ${did}`},
    s('title', {id: tid}, title), s('desc', {id: did}, desc));
}

/**
 * hbars is a horizontal bar chart of shares (0..max). rows: {label, value, text, flag, note}.
 * refs: vertical reference lines {value, label}.
 */
export function hbars({title, desc, rows, max = 1, refs = []}) {
  const box = h('div', {class: 'chart-box'});
  return responsive(box, width => {
    const narrow = width < 520;
    const labelW = narrow ? 0 : Math.min(220, Math.round(width * 0.34));
    const valueW = 64;
    const rowH = narrow ? 40 : 26;
    const top = 8;
    const barX = narrow ? 0 : labelW + 8;
    const barW = Math.max(60, width - barX - valueW);
    const height = top + rows.length * rowH + (refs.length ? 22 : 8);
    const svg = frame(width, height, title, desc);
    const scale = v => barX + Math.max(0, Math.min(1, v / (max || 1))) * barW;
    rows.forEach((r, i) => {
      const y = top + i * rowH;
      const barY = narrow ? y + 18 : y + 4;
      const g = s('g', {class: ['bar-row', r.flag && 'flagged']});
      g.append(s('title', {}, `${r.label}: ${r.text}${r.note ? ` (${r.note})` : ''}`));
      if (narrow) {
        g.append(s('text', {x: 0, y: y + 13, class: 'label'}, fit(`${r.flag ? '⚑ ' : ''}${r.label}${r.note ? ` · ${r.note}` : ''}`, width - valueW)));
      } else {
        g.append(s('text', {x: labelW, y: barY + 12, 'text-anchor': 'end', class: 'label'}, fit(`${r.flag ? '⚑ ' : ''}${r.label}`, labelW)));
      }
      g.append(s('rect', {x: barX, y: barY, width: barW, height: 16, class: 'track', rx: 2}));
      g.append(s('rect', {x: barX, y: barY, width: Math.max(1, scale(r.value) - barX), height: 16, class: ['bar', r.flag && 'bar-flag'].filter(Boolean).join(' '), rx: 2}));
      g.append(s('text', {x: width - 2, y: barY + 12, 'text-anchor': 'end', class: 'value'}, r.text));
      svg.append(g);
    });
    for (const ref of refs) {
      const x = scale(ref.value);
      svg.append(s('line', {x1: x, x2: x, y1: top - 4, y2: top + rows.length * rowH, class: 'ref'}),
        s('text', {x: Math.min(x, width - 4), y: height - 6, 'text-anchor': x > width - 120 ? 'end' : 'middle', class: 'ref-label'}, ref.label));
    }
    return svg;
  });
}

/**
 * months is a column chart of monthly shares against a target. cols: {label, value, text, met},
 * target: share (0..1) drawn as a dashed line.
 */
export function months({title, desc, cols, target}) {
  const box = h('div', {class: 'chart-box'});
  return responsive(box, width => {
    const height = 180;
    const left = 40;
    const bottom = 24;
    const top = 18;
    const plotH = height - top - bottom;
    const step = (width - left - 4) / Math.max(1, cols.length);
    const barW = Math.max(6, Math.min(36, step * 0.62));
    const y = v => top + plotH - Math.max(0, Math.min(1, v)) * plotH;
    const svg = frame(width, height, title, desc);
    for (const t of [0, 0.5, 1]) {
      svg.append(s('line', {x1: left, x2: width, y1: y(t), y2: y(t), class: 'grid'}),
        s('text', {x: left - 6, y: y(t) + 4, 'text-anchor': 'end', class: 'axis'}, `${t * 100}%`));
    }
    cols.forEach((c, i) => {
      const cx = left + step * i + step / 2;
      const g = s('g', {class: ['col', c.met ? 'met' : 'unmet']});
      g.append(s('title', {}, `${c.label}: ${c.text}${c.met ? ' (quota met)' : ' (quota not met)'}`));
      g.append(s('rect', {x: cx - barW / 2, y: y(c.value), width: barW, height: Math.max(0, y(0) - y(c.value)), class: 'bar'}));
      if (step >= 22 && c.value > 0) g.append(s('text', {x: cx, y: Math.max(top - 4, y(c.value) - 4), 'text-anchor': 'middle', class: 'value'}, c.short ?? ''));
      g.append(s('text', {x: cx, y: height - 8, 'text-anchor': 'middle', class: 'axis'}, c.label));
      svg.append(g);
    });
    if (target !== undefined) {
      svg.append(s('line', {x1: left, x2: width, y1: y(target), y2: y(target), class: 'target'}),
        s('text', {x: left + 4, y: y(target) - 4, 'text-anchor': 'start', class: 'target-label'}, `monthly quota ${Math.round(target * 100)}%`));
    }
    return svg;
  });
}

/** table renders the numbers behind a chart in a collapsed <details>. */
export function numbers(summary, headers, rows) {
  return h('details', {class: 'numbers'},
    h('summary', {}, summary),
    h('div', {class: 'table-wrap'}, h('table', {},
      h('thead', {}, h('tr', {}, headers.map(x => h('th', {scope: 'col'}, x)))),
      h('tbody', {}, rows.map(r => h('tr', {}, r.map((c, i) => (i === 0 ? h('th', {scope: 'row'}, c) : h('td', {}, c)))))))));
}
