// app.js: the console's shell. It signs in from a link or the sign-in page, shows each role the
// pages it may use, and routes between them on the URL's #/page.
import {h, replace, button} from './dom.js';
import * as session from './session.js';
import {fmtTime} from './format.js';
import signin from './pages/signin.js';
import checkpoint from './pages/checkpoint.js';
import dashboard from './pages/dashboard.js';
import cases from './pages/cases.js';
import fleet from './pages/fleet.js';
import samples from './pages/samples.js';
import inbox from './pages/inbox.js';
import {get} from './api.js';

const PAGES = [checkpoint, dashboard, cases, fleet, samples, inbox];

// unread is the inbox's unread count, shown on its link (data-count; the link's text stays
// "Inbox"); polled every 30 s while signed in.
let unread = 0;

function showUnread(n) {
  unread = n || 0;
  const a = document.querySelector('#nav a[href="#/inbox"]');
  if (!a) return;
  a.dataset.count = unread > 0 ? String(unread) : '';
  a.setAttribute('aria-label', unread > 0 ? `Inbox, ${unread} unread` : 'Inbox');
}

function pollUnread() {
  if (session.current()) get('/v1/notifications/unread-count').then(r => showUnread(r.unread), () => {});
}

// HOME is the page each role lands on.
const HOME = {
  police: 'checkpoint', bureau: 'dashboard', admin: 'dashboard', fleet: 'fleet',
  station: 'samples', lab: 'samples', transport: 'cases', construction: 'inbox', repair: 'inbox', sensor: 'inbox',
};

const ROLE_NAMES = {
  police: 'Traffic police', fleet: 'Fleet operator', station: 'Filling station / depot', lab: 'Testing lab',
  bureau: 'Environmental bureau', construction: 'Construction bureau', transport: 'Transport bureau',
  repair: 'Repair shop', sensor: 'Remote-sensing station', admin: 'Platform admin',
};

function may(page, role) {
  return role === 'admin' || page.roles.includes(role);
}

let notice = '';

function renderHeader(sess, current) {
  const nav = document.getElementById('nav');
  const who = document.getElementById('who');
  if (!sess) {
    replace(nav);
    replace(who);
    return;
  }
  const links = PAGES.filter(p => may(p, sess.role)).map(p =>
    h('a', {href: `#/${p.id}`, 'aria-current': p.id === current ? 'page' : null}, p.title));
  replace(nav, links);
  nav.hidden = links.length === 0;
  showUnread(unread);
  replace(who,
    h('span', {class: 'who-role', title: sess.exp ? `token valid until ${fmtTime(new Date(sess.exp * 1000).toISOString())}` : null},
      ROLE_NAMES[sess.role] || sess.role,
      sess.tenant ? h('span', {class: 'who-tenant'}, ` · ${sess.tenant}`) : null),
    button('Sign out', () => {
      session.signOut();
      notice = 'You are signed out.';
      location.hash = '#/';
      route();
    }, {class: 'link'}));
}

function route(focus = false) {
  const hash = location.hash || '#/';
  if (!hash.startsWith('#/')) return; // an in-page anchor, e.g. the skip link
  const id = hash.slice(2).split('?')[0];
  const main = document.getElementById('main');
  const sess = session.current();
  if (!sess) {
    renderHeader(null, '');
    document.title = `Sign in · ${document.body.dataset.title}`;
    replace(main, signin.render({notice, onSignedIn: () => { notice = ''; location.hash = '#/'; route(true); }}));
    notice = '';
    return;
  }
  let page = PAGES.find(p => p.id === id);
  if (!page) {
    const home = PAGES.find(p => p.id === HOME[sess.role]);
    if (home) {
      location.replace(`#/${home.id}`);
      return;
    }
  }
  renderHeader(sess, page ? page.id : '');
  if (!page) {
    document.title = document.body.dataset.title;
    replace(main, h('section', {class: 'panel'},
      h('h1', {}, ROLE_NAMES[sess.role] || sess.role),
      h('p', {}, 'The console has no page for your role yet. Everything your role may do is available over the REST API; see the services\' openapi.yaml files and docs/.')));
    return;
  }
  if (!may(page, sess.role)) {
    replace(main, h('section', {class: 'panel'}, h('h1', {}, page.title),
      h('p', {role: 'alert'}, `This page is not for the ${ROLE_NAMES[sess.role] || sess.role} role.`)));
    return;
  }
  document.title = `${page.title} · ${document.body.dataset.title}`;
  const container = h('div', {class: 'page', dataset: {page: page.id}});
  replace(main, container);
  page.render(container, sess);
  if (focus) main.focus();
}

/** takeLink signs in with a token the address carries (and removes it from there). */
function takeLink() {
  const taken = session.takeTokenFromURL();
  if (taken.error) notice = `The sign-in link did not work: ${taken.error}`;
  return taken;
}

function start() {
  takeLink();
  // A password session (reloaded tab): keep its access token renewed.
  const signedIn = session.current();
  if (signedIn && signedIn.exp) session.keepFresh(signedIn.exp - Date.now() / 1000);
  document.getElementById('skip').addEventListener('click', ev => {
    ev.preventDefault();
    document.getElementById('main').focus();
  });
  // A second sign-in link opened in this tab changes only the fragment: no reload, so the
  // token is taken here, switching to it; the new role starts on its home page.
  window.addEventListener('hashchange', () => {
    if (takeLink().session) {
      location.replace('#/'); // another hashchange, which routes
      return;
    }
    route(true);
  });
  window.addEventListener('clearsky:unauthenticated', () => {
    session.signOut();
    notice = 'The server refused your token (expired, or issued for another deployment): sign in again.';
    route(true);
  });
  window.addEventListener('clearsky:unread', ev => showUnread(ev.detail));
  route(false);
  pollUnread();
  setInterval(pollUnread, 30000);
}

start();
