// map.js draws the district from the platform's own data as SVG (no tile server is reachable):
// remote-sensing stations and their recent exceedances, fuel and coal sites, construction and
// disposal sites, the zones of the alert in force, and trucks with open OBD alarms.
import {h, s, replace, panel, problemBox, loading} from './dom.js';
import {get, settle, pages, seg} from './api.js';
import {fmtTime, words} from './format.js';
import {responsive, fit} from './charts.js';

const LAYERS = [
  {id: 'zones', label: 'Alert zones', sym: 'zone'},
  {id: 'muck', label: 'Construction and disposal sites', sym: 'site'},
  {id: 'fuel', label: 'Fuel, urea and coal sites', sym: 'fuel'},
  {id: 'stations', label: 'Remote-sensing stations', sym: 'station'},
  {id: 'exceed', label: 'Exceedances (30 days)', sym: 'exceed'},
  {id: 'obd', label: 'Trucks with open OBD alarms', sym: 'obd'},
];

const FUEL_KIND = {filling_station: 'fuelpt', oil_depot: 'depot', urea_seller: 'urea', coal_seller: 'coal', refinery: 'depot', importer: 'depot', producer: 'depot'};

// How many trucks with a bound terminal the map asks for their OBD state (there is no
// district-wide alarm list in the OBD API yet).
const OBD_TRUCKS = 60;

function rings(geom) {
  if (!geom || !geom.coordinates) return [];
  if (geom.type === 'Polygon') return geom.coordinates;
  if (geom.type === 'MultiPolygon') return geom.coordinates.flat();
  return [];
}

function km(a, b) {
  const dy = (a[1] - b[1]) * 111.2;
  const dx = (a[0] - b[0]) * 111.2 * Math.cos(((a[1] + b[1]) / 2) * Math.PI / 180);
  return Math.hypot(dx, dy);
}

function median(xs) {
  const v = [...xs].sort((a, b) => a - b);
  return v.length ? v[Math.floor(v.length / 2)] : 0;
}

/** load gathers the features; each source may fail on its own. */
async function load(role) {
  const since = new Date(Date.now() - 30 * 86400e3).toISOString();
  const [stations, exceed, fuel, muck, alerts, vehicles] = await settle([
    get('/v1/remote-sensing/stations'),
    pages('/v1/remote-sensing/measurements', {verdict: 'exceed', from: since}, 1000),
    pages('/v1/fuel/sites', {}, 1000),
    pages('/v1/muck/sites', {}, 1000),
    get('/v1/alerts'),
    role === 'bureau' || role === 'admin' ? pages('/v1/vehicles', {}, 2000) : Promise.resolve([]),
  ]);
  const f = {points: [], polys: [], notes: [], counts: {}};
  const note = (res, what) => { if (!res.ok) f.notes.push(problemBox(res.error, what)); };
  note(stations, 'Remote sensing');
  note(fuel, 'Fuel sites');
  note(muck, 'Muck sites');
  note(alerts, 'Alerts');
  const stationPos = {};
  if (stations.ok) {
    for (const st of stations.value.items || []) {
      stationPos[st.station_id] = st;
      f.points.push({layer: 'stations', sym: 'station', lon: st.lon, lat: st.lat, name: st.name,
        detail: `${st.station_id}${st.calibration_valid === false ? ' · calibration expired' : ''}`, warn: st.calibration_valid === false});
    }
  }
  if (exceed.ok) {
    const by = {};
    for (const r of exceed.value) {
      (by[r.station_id] = by[r.station_id] || []).push(r);
    }
    for (const [id, rs] of Object.entries(by)) {
      const st = stationPos[id];
      if (!st) continue;
      const plates = [...new Set(rs.map(r => r.plate))];
      f.points.push({layer: 'exceed', sym: 'exceed', lon: st.lon, lat: st.lat, count: rs.length,
        name: `${rs.length} exceedance${rs.length > 1 ? 's' : ''} at ${st.name}`,
        detail: `${plates.slice(0, 6).join(', ')}${plates.length > 6 ? '…' : ''}; last ${fmtTime(rs[0].measured_at)}`});
    }
  }
  if (fuel.ok) {
    for (const site of fuel.value) {
      if (typeof site.lat !== 'number') continue;
      f.points.push({layer: 'fuel', sym: FUEL_KIND[site.kind] || 'depot', lon: site.lon, lat: site.lat, name: site.name,
        detail: `${words(site.kind)}${site.unlicensed ? ' · UNLICENSED' : ''}`, warn: !!site.unlicensed});
    }
  }
  if (muck.ok) {
    for (const site of muck.value) {
      f.polys.push({layer: 'muck', cls: `site-${site.kind}`, rings: rings(site.area), name: site.name, detail: `${site.kind} site${site.contractor ? ` · ${site.contractor}` : ''}`});
    }
  }
  if (alerts.ok) {
    for (const a of alerts.value.current || []) {
      for (const r of a.restrictions || []) {
        if (r.zone) f.polys.push({layer: 'zones', cls: `zone-${a.level}`, rings: rings(r.zone), name: `${a.level} alert zone${r.zone_name ? `: ${r.zone_name}` : ''}`, detail: words(r.class)});
      }
    }
  }
  if (vehicles.ok) {
    const trucks = vehicles.value.filter(v => v.terminal && v.terminal.iccid).slice(0, OBD_TRUCKS);
    const states = await settle(trucks.map(v => get(`/v1/obd/vehicles/${seg(v.vin)}/state`)));
    states.forEach((st, i) => {
      if (!st.ok) return;
      const alarms = st.value.open_alarms || [];
      const last = st.value.last || {};
      if (!alarms.length || !last.position_valid) return;
      f.points.push({layer: 'obd', sym: 'obd', lon: last.lon, lat: last.lat, name: `${trucks[i].plate}: ${alarms.map(a => words(a.kind)).join(', ')}`,
        detail: `last report ${fmtTime(last.at)}`});
    });
    f.obdChecked = trucks.length;
  }
  for (const l of LAYERS) f.counts[l.id] = f.points.filter(p => p.layer === l.id).length + f.polys.filter(p => p.layer === l.id).length;
  return f;
}

/** extent keeps what lies within 60 km of the median of all positions (the district). */
function extent(f) {
  const all = [...f.points.map(p => [p.lon, p.lat]), ...f.polys.flatMap(p => p.rings.flat())];
  if (!all.length) return null;
  const mid = [median(all.map(p => p[0])), median(all.map(p => p[1]))];
  const near = all.filter(p => km(p, mid) <= 60);
  const b = {minX: Infinity, minY: Infinity, maxX: -Infinity, maxY: -Infinity};
  for (const [x, y] of near) {
    b.minX = Math.min(b.minX, x); b.maxX = Math.max(b.maxX, x);
    b.minY = Math.min(b.minY, y); b.maxY = Math.max(b.maxY, y);
  }
  // At least 4 km across, and a margin.
  const padX = Math.max(0.02, (b.maxX - b.minX) * 0.08);
  const padY = Math.max(0.015, (b.maxY - b.minY) * 0.08);
  b.minX -= padX; b.maxX += padX; b.minY -= padY; b.maxY += padY;
  b.mid = mid;
  b.outside = f.points.filter(p => km([p.lon, p.lat], mid) > 60);
  return b;
}

function symbol(sym, x, y, r = 6) {
  switch (sym) {
    case 'station': return s('g', {}, s('circle', {cx: x, cy: y, r: r + 1, class: 'm-station'}), s('circle', {cx: x, cy: y, r: 2, class: 'm-station-eye'}));
    case 'exceed': return s('circle', {cx: x, cy: y, r: r + 6, class: 'm-exceed'});
    case 'depot': return s('rect', {x: x - r, y: y - r, width: 2 * r, height: 2 * r, class: 'm-depot'});
    case 'urea': return s('path', {d: `M${x} ${y - r - 1}L${x + r + 1} ${y}L${x} ${y + r + 1}L${x - r - 1} ${y}Z`, class: 'm-urea'});
    case 'coal': return s('path', {d: `M${x} ${y - r - 1}L${x + r + 1} ${y + r}L${x - r - 1} ${y + r}Z`, class: 'm-coal'});
    case 'obd': return s('path', {d: `M${x} ${y - r - 3}L${x + r + 3} ${y + r + 1}L${x - r - 3} ${y + r + 1}Z`, class: 'm-obd'});
    case 'site': return s('rect', {x: x - r, y: y - r * 0.7, width: 2 * r, height: 1.4 * r, class: 'm-site'});
    case 'zone': return s('rect', {x: x - r, y: y - r * 0.7, width: 2 * r, height: 1.4 * r, class: 'm-zone'});
    default: return s('circle', {cx: x, cy: y, r, class: 'm-fuel'});
  }
}

function legendSymbol(sym) {
  const svg = s('svg', {width: 22, height: 22, viewBox: '0 0 22 22', 'aria-hidden': 'true', class: 'legend-sym'});
  const m = symbol(sym === 'fuel' ? 'fuelpt' : sym, 11, 11, sym === 'exceed' ? 3 : 5);
  if (m) svg.append(m);
  return svg;
}

function draw(f, b, width, hidden) {
  const kx = Math.cos(((b.minY + b.maxY) / 2) * Math.PI / 180);
  const spanX = (b.maxX - b.minX) * kx;
  const spanY = b.maxY - b.minY;
  const height = Math.round(Math.min(Math.max(width * (spanY / spanX), width * 0.5), width * (width < 600 ? 1 : 0.75)));
  const scale = Math.min(width / spanX, height / spanY);
  const ox = (width - spanX * scale) / 2;
  const oy = (height - spanY * scale) / 2;
  const X = lon => ox + (lon - b.minX) * kx * scale;
  const Y = lat => oy + (b.maxY - lat) * scale;
  const svg = s('svg', {class: 'map', viewBox: `0 0 ${width} ${height}`, width, height, role: 'img', 'aria-labelledby': 'map-title map-desc'},
    s('title', {id: 'map-title'}, 'Map of the district'),
    s('desc', {id: 'map-desc'}, `${f.points.length} places and ${f.polys.length} areas; the list below the map names each.`));
  svg.append(s('rect', {x: 0, y: 0, width, height, class: 'map-bg'}));
  // Graticule every 0.05° (about 5 km), labelled.
  const g = s('g', {class: 'graticule'});
  const stepDeg = spanY > 0.6 ? 0.2 : spanY > 0.25 ? 0.1 : 0.05;
  for (let lon = Math.ceil(b.minX / stepDeg) * stepDeg; lon < b.maxX; lon += stepDeg) {
    g.append(s('line', {x1: X(lon), x2: X(lon), y1: 0, y2: height}), s('text', {x: X(lon) + 3, y: height - 4}, `${lon.toFixed(2)}°E`));
  }
  for (let lat = Math.ceil(b.minY / stepDeg) * stepDeg; lat < b.maxY; lat += stepDeg) {
    g.append(s('line', {x1: 0, x2: width, y1: Y(lat), y2: Y(lat)}), s('text', {x: 3, y: Y(lat) - 3}, `${lat.toFixed(2)}°N`));
  }
  svg.append(g);
  // Scale bar.
  const kmPx = scale / 111.2;
  const barKm = [1, 2, 5, 10, 20, 50].find(k => k * kmPx >= width / 8) || 50;
  svg.append(s('g', {class: 'scalebar'},
    s('rect', {x: width - 16 - barKm * kmPx, y: 12, width: barKm * kmPx, height: 5}),
    s('text', {x: width - 16, y: 32, 'text-anchor': 'end'}, `${barKm} km`)));
  const layers = {};
  for (const l of LAYERS) {
    layers[l.id] = s('g', {class: `layer layer-${l.id}`, dataset: {layer: l.id}, display: hidden.has(l.id) ? 'none' : null});
  }
  for (const p of f.polys) {
    const d = p.rings.map(r => `M${r.map(([lon, lat]) => `${X(lon).toFixed(1)} ${Y(lat).toFixed(1)}`).join('L')}Z`).join('');
    layers[p.layer].append(s('path', {d, class: `area ${p.cls}`, 'fill-rule': 'evenodd'}, s('title', {}, `${p.name} (${p.detail})`)));
  }
  // Names where there is room: stations, sites and unlicensed sellers; never over another name.
  const labelled = [];
  const label = (layer, x, y, text) => {
    if (width < 480 || labelled.some(([lx, ly]) => Math.abs(lx - x) < 130 && Math.abs(ly - y) < 15)) return;
    labelled.push([x, y]);
    layers[layer].append(s('text', {x: x + 11, y: y + 4, class: 'name'}, fit(text, 150, 11)));
  };
  for (const p of f.polys) {
    if (p.layer !== 'muck' || !p.rings.length) continue;
    const r = p.rings[0];
    const x = Math.max(...r.map(q => X(q[0])));
    const y = Math.min(...r.map(q => Y(q[1])));
    label(p.layer, x - 8, y + 4, p.name);
  }
  for (const p of f.points) {
    const x = X(p.lon);
    const y = Y(p.lat);
    if (x < -20 || x > width + 20 || y < -20 || y > height + 20) continue;
    const m = s('g', {class: ['marker', p.warn && 'warn']}, s('title', {}, `${p.name} (${p.detail})`));
    const sym = symbol(p.sym, x, y, 7);
    if (sym) m.append(sym);
    if (p.layer === 'exceed') {
      m.append(s('text', {x: x + 11, y: y - 11, class: 'count'}, String(p.count)));
    }
    layers[p.layer].append(m);
    if (p.layer === 'stations' || p.warn || p.layer === 'obd') label(p.layer, x, y, p.layer === 'obd' ? p.name.split(':')[0] : p.name);
  }
  for (const l of LAYERS) svg.append(layers[l.id]);
  return svg;
}

/** districtMap returns the map panel; it loads its data itself. */
export function districtMap(role) {
  const {el, body} = panel('District map', {id: 'map',
    intro: 'Drawn from the platform\'s own records: no map tiles are fetched. Hover a symbol for its name; the list under the map names every place.'});
  body.append(loading('the map'));
  load(role).then(f => {
    const b = extent(f);
    if (!b) {
      replace(body, f.notes, h('p', {class: 'none'}, 'Nothing with a position yet.'));
      return;
    }
    const hidden = new Set();
    const mapBox = h('div', {class: 'map-box'});
    let redraw = () => {};
    responsive(mapBox, width => {
      redraw = () => mapBox.replaceChildren(draw(f, b, mapBox.clientWidth, hidden));
      return draw(f, b, width, hidden);
    });
    const legend = h('fieldset', {class: 'legend'}, h('legend', {}, 'Show'),
      LAYERS.map(l => {
        const id = `layer-${l.id}`;
        const input = h('input', {type: 'checkbox', id, checked: true});
        input.addEventListener('change', () => {
          if (input.checked) hidden.delete(l.id); else hidden.add(l.id);
          redraw();
        });
        return h('span', {class: 'legend-item'}, input, h('label', {for: id}, legendSymbol(l.sym), `${l.label} (${f.counts[l.id]})`));
      }));
    const rows = [...f.points, ...f.polys].map(p => h('li', {dataset: {layer: p.layer}},
      h('strong', {}, p.name), ` — ${LAYERS.find(l => l.id === p.layer).label.replace(/s? \(.*$/, '')}: ${p.detail}`));
    replace(body, f.notes, mapBox, legend,
      f.obdChecked !== undefined ? h('p', {class: 'hint'}, `OBD alarms: the state of ${f.obdChecked} trucks with a bound terminal was read.`) : null,
      b.outside.length ? h('p', {class: 'hint'}, `Outside the map (more than 60 km away): ${b.outside.map(p => p.name).join(', ')}.`) : null,
      h('details', {class: 'numbers'}, h('summary', {}, `Every place on the map (${rows.length})`), h('ul', {class: 'feature-list'}, rows)));
  }, err => replace(body, problemBox(err, 'The map')));
  return el;
}
