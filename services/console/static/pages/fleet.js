// Fleet self-service: the fleet's trucks with their OBD state and alarms, registering a truck,
// binding an OBD terminal, and muck-truck permits (apply, then follow the decision).
import {h, replace, button, announce, panel, problemBox, loading, taskLinks} from '../dom.js';
import {get, post, put, seg, settle, pages} from '../api.js';
import {fmtTime, fmtDate, inputValue, fromInput, words, colourName, PLATE_COLOURS} from '../format.js';
import {field, checkbox, formShell, submitRow} from '../forms.js';
import {alertStrip} from '../alerts.js';

const FUEL = [['diesel', 'Diesel'], ['gasoline', 'Petrol'], ['gas', 'Gas (CNG/LNG)'], ['hybrid', 'Hybrid'], ['electric', 'Battery-electric'], ['fuel_cell', 'Fuel cell']];
const STANDARDS = ['VIb', 'VIa', 'VI', 'V', 'IV', 'III', 'II', 'I'].map(v => [v, `China ${v}`]);
const CATEGORIES = [['N3', 'N3 (goods, over 12 t)'], ['N2', 'N2 (goods, 3.5–12 t)'], ['N1', 'N1 (goods, up to 3.5 t)'], ['M3', 'M3 (bus, over 5 t)'], ['M2', 'M2 (bus, up to 5 t)'], ['M1', 'M1 (car)']];
const USES = [['operating', 'Operating 营运'], ['non_operating', 'Non-operating 非营运']];
const CLASSES = ['freight', 'muck', 'light_logistics', 'bus', 'sanitation', 'postal', 'taxi', 'commuter', 'other'].map(v => [v, words(v)]);
const PERMIT_STATES = {pending: 'Pending decision', approved: 'Approved', refused: 'Refused', suspended: 'Suspended', revoked: 'Revoked', expired: 'Expired'};

function plateChip(v) {
  return h('span', {class: ['plate', `plate-${v.plate_colour}`], title: colourName(v.plate_colour)}, v.plate);
}

function obdSummary(st) {
  if (!st) return h('span', {class: 'meta'}, 'No OBD data');
  const alarms = st.open_alarms || [];
  const last = st.last || {};
  return h('span', {class: 'obd-summary'},
    h('span', {class: ['badge', st.online ? 'ok' : 'muted']}, st.online ? 'online' : 'offline'),
    alarms.length ? h('span', {class: 'badge sev-stop'}, `${alarms.length} open alarm${alarms.length > 1 ? 's' : ''}`) : h('span', {class: 'badge ok'}, 'no alarm'),
    last.at && !last.at.startsWith('0001') ? h('span', {class: 'meta'}, ` last data ${fmtTime(last.at)}`) : null);
}

function obdDetails(v, st) {
  const box = h('div', {class: 'obd-details'}, loading('the alarms'));
  get(`/v1/obd/vehicles/${seg(v.vin)}/alarms`, {limit: 20}).then(res => {
    const last = (st && st.last) || {};
    const vals = [
      ['Speed', last.speed_kmh, 'km/h'], ['Engine speed', last.engine_speed_rpm, 'rpm'], ['NOx downstream', last.nox_down_ppm, 'ppm'],
      ['NOx upstream', last.nox_up_ppm, 'ppm'], ['Reagent (urea)', last.reagent_pct, '%'], ['SCR inlet', last.scr_inlet_c, '°C'],
    ].filter(x => x[1] !== null && x[1] !== undefined);
    const items = res.items || [];
    replace(box,
      vals.length ? h('dl', {class: 'values'}, vals.flatMap(([k, val, u]) => [h('dt', {}, k), h('dd', {}, `${val} ${u}`)])) : h('p', {class: 'meta'}, 'No values reported yet.'),
      last.position_valid ? h('p', {class: 'meta'}, `Position ${last.lat.toFixed(5)}° N, ${last.lon.toFixed(5)}° E`) : null,
      st && st.exemption_eligible ? h('p', {class: 'badge ok'}, 'Eligible for exemption from the periodic on-line test') : null,
      h('h4', {}, `Alarms (${items.length})`),
      items.length ? h('ul', {class: 'alarms'}, items.map(a => h('li', {class: a.closed_at ? 'closed' : 'open', dataset: {kind: a.kind}},
        h('span', {class: ['badge', a.closed_at ? 'muted' : 'sev-stop']}, a.closed_at ? 'closed' : 'open'),
        ` ${words(a.kind)}: ${a.message || ''} `, h('span', {class: 'meta'}, `opened ${fmtTime(a.opened_at)}${a.closed_at ? `, closed ${fmtTime(a.closed_at)}` : ''}`)))) : h('p', {class: 'none'}, 'No alarm recorded.'));
  }, err => replace(box, problemBox(err, 'The alarms')));
  return box;
}

function terminalForm(v, reload) {
  const form = formShell({
    label: `Bind an OBD terminal to ${v.plate}`,
    cls: 'inline-form',
    onSubmit: async f => {
      await put(`/v1/vehicles/${seg(v.vin)}/terminal`, {iccid: f.elements.iccid.value.trim()});
      announce(`Terminal bound to ${v.plate}.`);
      reload();
    },
  });
  form.append(field({label: v.terminal ? 'Replace the terminal: SIM ICCID' : 'Bind a terminal: SIM ICCID', name: 'iccid', required: true,
    hint: '19 or 20 digits (the last may be F), printed on the terminal\'s SIM card.', attrs: {inputmode: 'numeric', autocomplete: 'off', maxlength: 20}}),
  submitRow(v.terminal ? 'Replace' : 'Bind'));
  return form;
}

function truckCard(v, st, reload) {
  const details = h('div', {class: 'truck-more', hidden: true});
  const toggle = button('Details', () => {
    const show = details.hidden;
    details.hidden = !show;
    toggle.setAttribute('aria-expanded', String(show));
    toggle.textContent = show ? 'Hide details' : 'Details';
    if (show && !details.childNodes.length) {
      details.append(v.terminal ? obdDetails(v, st) : h('p', {class: 'meta'}, 'No terminal bound: the truck sends no OBD data.'), terminalForm(v, reload));
    }
  }, {'aria-expanded': 'false', class: 'secondary'});
  return h('li', {class: 'truck', dataset: {vin: v.vin, plate: v.plate}},
    h('div', {class: 'truck-head'}, plateChip(v), h('span', {class: ['badge', v.status === 'active' ? 'ok' : 'sev-stop']}, words(v.status))),
    h('p', {class: 'meta'}, `${v.maker} · ${FUEL.find(f => f[0] === v.fuel_type)?.[1] || v.fuel_type} · China ${v.emission_standard} · ${v.category} · ${words(v.service_class || '')}`),
    h('p', {class: 'meta mono'}, `VIN ${v.vin}`),
    h('p', {class: 'meta'}, v.terminal ? `Terminal ${v.terminal.iccid} (bound ${fmtDate(v.terminal.bound_at)})` : 'No OBD terminal'),
    v.phase_out && v.phase_out.listed ? h('p', {class: 'badge sev-inspect'}, `Phase-out list (${words(v.phase_out.list || '')}): deadline ${fmtDate(v.phase_out.deadline)}${v.phase_out.overdue ? ', overdue' : ''}`) : null,
    v.terminal ? h('p', {}, obdSummary(st)) : null,
    h('div', {class: 'actions'}, toggle),
    details);
}

function registerForm(onDone) {
  const form = formShell({
    label: 'Register a truck',
    onSubmit: async f => {
      const v = Object.fromEntries([...new FormData(f).entries()].map(([k, x]) => [k, String(x).trim()]));
      const body = {};
      for (const [k, x] of Object.entries(v)) if (x !== '') body[k] = x;
      if (body.gross_mass_kg !== undefined) body.gross_mass_kg = Number(body.gross_mass_kg);
      if (body.vin) body.vin = body.vin.toUpperCase();
      const saved = await post('/v1/vehicles', body);
      announce(`${saved.plate} registered.`);
      f.reset();
      const msg = f.querySelector('.form-ok');
      msg.textContent = `Registered ${saved.plate} (VIN ${saved.vin}).`;
      msg.hidden = false;
      onDone(saved);
    },
  });
  form.addEventListener('input', () => { form.querySelector('.form-ok').hidden = true; });
  form.append(
    h('div', {class: 'grid2'},
      field({label: 'VIN', name: 'vin', required: true, hint: '17 characters, no I, O or Q; the 9th is the check digit.',
        attrs: {autocomplete: 'off', autocapitalize: 'characters', spellcheck: 'false', maxlength: 17, class: 'mono'}}),
      field({label: 'Plate', name: 'plate', required: true, hint: 'e.g. 晋F12345', attrs: {autocomplete: 'off', autocapitalize: 'characters'}}),
      field({label: 'Plate colour', name: 'plate_colour', required: true, options: PLATE_COLOURS.map(([v, en, zh]) => [v, `${en} ${zh}`]), value: 'yellow'}),
      field({label: 'Fuel', name: 'fuel_type', required: true, options: FUEL}),
      field({label: 'Emission standard', name: 'emission_standard', required: true, options: STANDARDS}),
      field({label: 'Category', name: 'category', required: true, options: CATEGORIES}),
      field({label: 'Use', name: 'use', required: true, options: USES}),
      field({label: 'Service', name: 'service_class', options: CLASSES}),
      field({label: 'Maker', name: 'maker', required: true, attrs: {autocomplete: 'off'}}),
      field({label: 'First registered on', name: 'registered_on', type: 'date', required: true}),
      field({label: 'Place of registration', name: 'registered_place', attrs: {autocomplete: 'off'}}),
      field({label: 'Gross mass (kg)', name: 'gross_mass_kg', type: 'number', attrs: {min: 0, max: 100000, step: 1, inputmode: 'numeric'}}),
      field({label: 'Owner', name: 'owner', wide: true, hint: 'Personal data: only your fleet and audited readers see it.', attrs: {autocomplete: 'off'}})),
    h('p', {class: 'form-ok', role: 'status', hidden: true}),
    submitRow('Register'));
  return form;
}

function permitCard(p, sites) {
  const name = id => (sites[id] && sites[id].name) || id;
  return h('li', {class: 'permit', dataset: {permitId: p.permit_id, state: p.state}},
    h('div', {class: 'truck-head'},
      h('span', {class: ['plate', `plate-${p.plate_colour}`]}, p.plate),
      h('span', {class: ['badge', `permit-${p.state}`]}, PERMIT_STATES[p.state] || p.state)),
    h('p', {class: 'meta'}, `${name(p.from_site)} → ${name(p.to_site)}`),
    h('p', {class: 'meta'}, `Valid ${fmtDate(p.valid_from)} – ${fmtDate(p.valid_to)} · ${p.permit_id}`),
    p.state_reason ? h('p', {class: 'state-reason'}, p.state_reason) : null,
    (p.reasons || []).length ? h('ul', {class: 'failures'}, p.reasons.map(r => h('li', {dataset: {code: r.code}}, taskLinks(r.message), r.rule ? [' (', ...taskLinks(r.rule), ')'] : ''))) : null,
    h('details', {class: 'history'}, h('summary', {}, `History (${(p.history || []).length})`),
      h('ol', {}, (p.history || []).map(e => h('li', {},
        h('span', {class: 'meta'}, fmtTime(e.at)), ` ${words(e.action)}: ${e.from ? `${e.from} → ` : ''}${e.to}`,
        e.role ? h('span', {class: 'meta'}, ` by ${e.role}`) : null, e.reason ? ` — ${e.reason}` : '')))));
}

function permitForm(trucks, sites, onDone) {
  const all = Object.values(sites);
  const form = formShell({
    label: 'Apply for a muck-truck permit',
    onSubmit: async f => {
      const e = f.elements;
      const body = {vin: e.vin.value, from_site: e.from_site.value, to_site: e.to_site.value,
        valid_from: fromInput(e.valid_from.value) || undefined, valid_to: fromInput(e.valid_to.value) || undefined,
        enclosed: e.enclosed.checked, gps: e.gps.checked, video: e.video.checked};
      const p = await post('/v1/muck/permits', body);
      announce(`Permit application for ${p.plate}: ${p.state}.`);
      onDone(p);
    },
  });
  const now = new Date();
  form.append(
    h('div', {class: 'grid2'},
      field({label: 'Truck', name: 'vin', required: true, options: trucks.map(v => [v.vin, `${v.plate} (${v.maker}, ${FUEL.find(f => f[0] === v.fuel_type)?.[1] || v.fuel_type})`])}),
      field({label: 'From construction site', name: 'from_site', required: true, options: all.filter(x => x.kind === 'construction').map(x => [x.site_id, x.name])}),
      field({label: 'To disposal site', name: 'to_site', required: true, options: all.filter(x => x.kind === 'disposal').map(x => [x.site_id, x.name])}),
      field({label: 'Valid from (China time)', name: 'valid_from', type: 'datetime-local', required: true, value: inputValue(now)}),
      field({label: 'Valid to (China time)', name: 'valid_to', type: 'datetime-local', required: true, value: inputValue(new Date(now.getTime() + 90 * 86400e3))})),
    h('fieldset', {class: 'field checks'}, h('legend', {}, taskLinks('The truck is (task 18: 全密闭、全定位、全监控)')),
      checkbox({label: 'fully enclosed', name: 'enclosed'}),
      checkbox({label: 'satellite-positioned (GPS)', name: 'gps'}),
      checkbox({label: 'video-monitored', name: 'video'})),
    submitRow('Apply'));
  return form;
}

function render(root, sess) {
  const trucksPanel = panel('My trucks', {id: 'trucks', actions: [button('Refresh', () => loadTrucks())]});
  const regPanel = panel('Register a truck', {id: 'register', intro: 'New registrations must meet the emission standard in force (task 13); the registry checks the VIN and the plate.'});
  const permitsPanel = panel('Muck-truck permits', {id: 'permits', actions: [button('Refresh', () => loadPermits())],
    intro: 'Apply for a transport permit for one of your trucks; the construction bureau decides. Follow each application here.'});
  const applyBox = h('div', {class: 'apply'});
  let trucks = [];
  let sites = {};

  regPanel.body.append(registerForm(() => loadTrucks()));
  root.append(h('h1', {class: 'page-title'}, 'Fleet', sess.tenant ? h('span', {class: 'sub'}, ` ${sess.tenant}`) : null),
    alertStrip(),
    h('div', {class: 'two-col'}, trucksPanel.el, h('div', {}, regPanel.el, permitsPanel.el)));

  async function loadTrucks() {
    replace(trucksPanel.body, loading('your trucks'));
    try {
      trucks = await pages('/v1/vehicles', {}, 1000);
    } catch (err) {
      replace(trucksPanel.body, problemBox(err, 'Your trucks'));
      return;
    }
    const withTerminal = trucks.filter(v => v.terminal);
    const states = await settle(withTerminal.map(v => get(`/v1/obd/vehicles/${seg(v.vin)}/state`)));
    const stateOf = {};
    withTerminal.forEach((v, i) => { if (states[i].ok) stateOf[v.vin] = states[i].value; });
    replace(trucksPanel.body,
      h('p', {class: 'meta'}, `${trucks.length} trucks, ${withTerminal.length} with an OBD terminal.`),
      trucks.length ? h('ul', {class: 'trucks cards'}, trucks.map(v => truckCard(v, stateOf[v.vin], loadTrucks))) : h('p', {class: 'none'}, 'No truck registered yet.'));
    renderApply();
  }

  function renderApply() {
    if (!trucks.length || !Object.keys(sites).length) return;
    replace(applyBox, h('h3', {}, 'Apply for a permit'), permitForm(trucks, sites, () => loadPermits()));
  }

  async function loadPermits() {
    replace(permitsPanel.body, loading('your permits'));
    const [ps, ss] = await settle([pages('/v1/muck/permits', {}, 500), pages('/v1/muck/sites', {}, 1000)]);
    if (ss.ok) sites = Object.fromEntries(ss.value.map(x => [x.site_id, x]));
    if (!ps.ok) {
      replace(permitsPanel.body, problemBox(ps.error, 'Your permits'));
      return;
    }
    const list = ps.value.slice().sort((a, b) => String(b.updated_at).localeCompare(String(a.updated_at)));
    replace(permitsPanel.body,
      list.length ? h('ul', {class: 'permits cards'}, list.map(p => permitCard(p, sites))) : h('p', {class: 'none'}, 'No permit yet.'),
      applyBox);
    renderApply();
  }

  loadTrucks();
  loadPermits();
}

export default {id: 'fleet', title: 'Fleet', roles: ['fleet'], render};
