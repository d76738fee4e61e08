// The bureau's dashboard: the alert level control, the district map, open cases by state with
// the bureau's actions, the district's open OBD alarms, sampling coverage against the quotas per month, and exceedance rates by
// maker, inspection station and fleet.
import {h, replace, panel, problemBox, loading, taskLinks} from '../dom.js';
import {get} from '../api.js';
import {pct, today, words} from '../format.js';
import {alertControl} from '../alerts.js';
import {districtMap} from '../map.js';
import {remoteSensingCases, fuelCases, obdAlarms} from '../cases.js';
import {hbars, months, numbers} from '../charts.js';

const QUOTAS = {oil_depot: 'Oil depots (task 14)', coal_seller: 'Household coal sellers (task 7)'};

function coverage() {
  const year = Number(today().slice(0, 4));
  const {el, body} = panel('Sampling coverage against the quotas', {id: 'coverage',
    intro: `Share of sites with a supervisory sample in each month of ${year}; the dashed line is the monthly quota. All sites must be sampled within the year.`});
  body.append(loading('the coverage'));
  get('/v1/fuel/coverage', {year}).then(res => {
    const blocks = (res.quotas || []).map(q => {
      const kind = q.quota.kind;
      const ms = q.months || [];
      const y = q.year || {};
      return h('div', {class: 'chart-block', dataset: {quota: kind}},
        h('h3', {}, taskLinks(QUOTAS[kind] || words(kind))),
        h('p', {class: 'meta'}, `Year so far: ${y.sampled ?? 0} of ${y.population ?? 0} sites sampled (${pct(y.share)}, target ${pct(y.target)})`,
          y.met ? ' — met' : ' — not met yet'),
        months({
          title: `${QUOTAS[kind] || kind}: monthly coverage ${year}`,
          desc: ms.map(m => `${m.period}: ${m.sampled} of ${m.population} (${pct(m.share)})${m.met ? ', met' : ', not met'}`).join('; '),
          cols: ms.map(m => ({label: m.period.slice(5), value: m.share || 0, met: m.met, short: `${m.sampled}/${m.population}`,
            text: `${m.sampled} of ${m.population} sampled (${pct(m.share)}), ${m.required} required`})),
          target: ms.length ? ms[ms.length - 1].target : q.quota.monthly_share,
        }),
        (q.unsampled || []).length ? h('p', {class: 'hint'}, `Not sampled this year: ${q.unsampled.map(u => u.name || u.site_id).join(', ')}`) : null,
        numbers('The numbers', ['Month', 'Sampled', 'Sites', 'Required', 'Share', 'Quota met'],
          ms.map(m => [m.period, m.sampled, m.population, m.required, pct(m.share), m.met ? 'yes' : 'no'])));
    });
    replace(body, blocks.length ? h('div', {class: 'charts-grid'}, blocks) : h('p', {class: 'none'}, 'No quota configured.'));
  }, err => replace(body, problemBox(err, 'Sampling coverage')));
  return el;
}

const BY = [
  ['maker', 'By maker'],
  ['inspection_station', 'By inspection station (task 33: fraud signal)'],
  ['fleet', 'By fleet (transport company)'],
];

function exceedance() {
  const from = today(-182);
  const to = today(1);
  const {el, body} = panel('Exceedance rates', {id: 'exceedance',
    intro: `Share of vehicles measured by remote sensing with at least one exceeding reading, ${from} to ${today()}.`});
  const grid = h('div', {class: 'charts-grid'});
  body.append(grid);
  for (const [by, title] of BY) {
    const block = h('div', {class: 'chart-block', dataset: {by}}, h('h3', {}, taskLinks(title)), loading('the report'));
    grid.append(block);
    get('/v1/remote-sensing/reports/exceedance', {by, from, to}).then(res => {
      const rows = (res.rows || []).slice().sort((a, b) => b.vehicle_rate - a.vehicle_rate).slice(0, 12);
      const fs = res.fraud_signal;
      const content = rows.length ? [
        hbars({
          title: `Exceedance rate ${words(by)}`,
          desc: rows.map(r => `${r.key || 'unknown'}: ${r.exceeding_vehicles} of ${r.vehicles} vehicles (${pct(r.vehicle_rate)})${r.flagged ? ', flagged' : ''}`).join('; '),
          rows: rows.map(r => ({label: r.key || '(unknown)', value: r.vehicle_rate, flag: r.flagged,
            text: `${pct(r.vehicle_rate)}`, note: `${r.exceeding_vehicles}/${r.vehicles}`})),
          max: 1,
          refs: fs && rows.some(r => r.qualifies) ? [{value: fs.threshold, label: `flag above ${pct(fs.threshold)}`}] : [],
        }),
        fs ? h('p', {class: 'hint'}, rows.some(r => r.qualifies)
          ? `Stations with at least ${fs.min_vehicles} measured vehicles qualify; one is flagged above ${fs.factor} × their mean rate (${pct(fs.baseline)}). A flag calls for an investigation; it proves nothing.`
          : `No station has ${fs.min_vehicles} measured vehicles yet: no fraud signal in this period.`) : null,
        numbers('The numbers', ['Key', 'Vehicles', 'Exceeding', 'Vehicle rate', 'Readings', 'Reading rate'],
          rows.map(r => [r.key || '(unknown)', r.vehicles, r.exceeding_vehicles, pct(r.vehicle_rate), r.readings, pct(r.reading_rate)])),
      ] : h('p', {class: 'none'}, 'No judged reading in the period.');
      replace(block, h('h3', {}, title), content);
    }, err => replace(block, h('h3', {}, title), problemBox(err, 'The remote-sensing report')));
  }
  return el;
}

export default {
  id: 'dashboard',
  title: 'Dashboard',
  roles: ['bureau'],
  render(root, sess) {
    root.append(
      h('h1', {class: 'page-title'}, 'Bureau dashboard'),
      h('div', {class: 'dash'},
        alertControl(), districtMap(sess.role), remoteSensingCases(sess.role), fuelCases(), obdAlarms(), coverage(), exceedance()));
  },
};
