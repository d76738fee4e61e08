// The inbox: the events that concern the person's organisation and role (services/notify,
// docs/events.md), newest first, unread ones marked; refreshed every 20 s while open.
import {h, replace, panel, problemBox, loading, button, announce} from '../dom.js';
import {get, post} from '../api.js';
import {fmtTime} from '../format.js';

const EVERY_MS = 20000;

function item(n) {
  const data = Object.entries(n.data || {}).map(([k, v]) => `${k}: ${v}`).join(' · ');
  return h('li', {class: n.read ? 'inbox-item' : 'inbox-item unread', dataset: {id: n.id, type: n.type}},
    h('p', {}, h('strong', {}, n.summary || n.type), ' — ', n.subject),
    h('p', {class: 'meta'}, fmtTime(n.time), ' · ', h('code', {}, n.link)),
    data ? h('p', {class: 'meta'}, data) : null);
}

export default {
  id: 'inbox',
  title: 'Inbox',
  roles: ['police', 'fleet', 'station', 'lab', 'bureau', 'construction', 'transport', 'repair', 'sensor'],
  render(root) {
    const {el, body} = panel('Notifications', {id: 'inbox',
      intro: 'What happened to your organisation\'s records: alarms, failed samples, permit steps, cases, alerts.'});
    root.append(h('h1', {class: 'page-title'}, 'Inbox'), el);
    body.append(loading('the notifications'));
    let shown = [];
    const load = () => get('/v1/notifications', {limit: 100}).then(res => {
      shown = res.items || [];
      const unread = shown.filter(n => !n.read).map(n => n.id);
      const markAll = unread.length ? button(`Mark ${unread.length} read`, () =>
        post('/v1/notifications/read', {ids: unread}).then(r => {
          announce(`${unread.length} marked read`);
          window.dispatchEvent(new CustomEvent('clearsky:unread', {detail: r.unread}));
          load();
        }, err => replace(body, problemBox(err, 'Marking read')))) : null;
      window.dispatchEvent(new CustomEvent('clearsky:unread', {detail: res.unread}));
      replace(body, h('p', {class: 'meta'}, `${res.unread} unread`), markAll,
        shown.length ? h('ul', {class: 'inbox'}, shown.map(item)) : h('p', {class: 'none'}, 'Nothing yet.'));
    }, err => replace(body, problemBox(err, 'The notifications')));
    load();
    const timer = setInterval(() => { if (document.body.contains(el)) load(); else clearInterval(timer); }, EVERY_MS);
  },
};
