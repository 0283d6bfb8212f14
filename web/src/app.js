// The console's shell: logs in (a pasted token, or #token=... in the URL), draws the nav for the
// token's role, routes location.hash to a view module, and polls the current view every 3 s
// while the tab is visible. Each view module exports {title, create(ctx)}; create returns
// {el, refresh(), destroy()}.

import { api, getToken, setToken, clearToken, setUnauthenticatedHandler, ApiError } from './api.js';
import { clock, esc } from './util.js';
import loginView from './views/login.js';
import fleet from './views/fleet.js';
import node from './views/node.js';
import money from './views/money.js';
import power from './views/power.js';
import market from './views/market.js';
import leases from './views/leases.js';
import alerts from './views/alerts.js';
import plan from './views/plan.js';
import offers from './views/offers.js';
import newLease from './views/new_lease.js';
import mine from './views/mine.js';
import logs from './views/logs.js';
import invoices from './views/invoices.js';

const POLL_MS = 3000;

// Route name -> view, and which roles may open it. `nav` routes appear in the bar, in this order.
const ROUTES = {
  fleet: { view: fleet, roles: ['operator'], nav: true },
  money: { view: money, roles: ['operator'], nav: true },
  power: { view: power, roles: ['operator'], nav: true },
  market: { view: market, roles: ['operator'], nav: true },
  leases: { view: leases, roles: ['operator'], nav: true },
  alerts: { view: alerts, roles: ['operator'], nav: true },
  plan: { view: plan, roles: ['operator'], nav: true },
  offers: { view: offers, roles: ['operator', 'tenant'], nav: true },
  new: { view: newLease, roles: ['operator', 'tenant'], nav: true },
  mine: { view: mine, roles: ['tenant'], nav: true },
  invoices: { view: invoices, roles: ['operator', 'tenant'], nav: true },
  node: { view: node, roles: ['operator'], nav: false },
  logs: { view: logs, roles: ['operator', 'tenant'], nav: false },
};

const HOME = { operator: 'fleet', tenant: 'offers' };

const el = {
  nav: document.getElementById('nav'),
  session: document.getElementById('session'),
  updated: document.getElementById('updated'),
  who: document.getElementById('who'),
  logout: document.getElementById('logout'),
  status: document.getElementById('status'),
  main: document.getElementById('main'),
};

let session = null;    // {role, tenant} from /v1/whoami
let current = null;    // {name, instance}
let pollGen = 0;       // bumped to stop the running poll loop
let pollTimer = null;
let alertCount = null;

// --- Status line and "updated" stamp ---

function showStatus(message, tone = 'error') {
  el.status.textContent = message;
  el.status.className = 'status status-' + tone;
  el.status.hidden = !message;
}

function stampUpdated() {
  el.updated.textContent = 'updated ' + clock();
}

// --- Routing ---

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [path, query = ''] = raw.split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  return { name: parts[0] || '', params: parts.slice(1), query: new URLSearchParams(query) };
}

export function go(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

function allowed(name) {
  const r = ROUTES[name];
  return r && session && r.roles.includes(session.role);
}

function route() {
  if (!session) return;
  const { name, params, query } = parseHash();
  if (!allowed(name)) {
    history.replaceState(null, '', '#/' + HOME[session.role]);
    return route();
  }
  mountView(name, params, query);
}

function mountView(name, params, query) {
  stopPolling();
  if (current && current.instance.destroy) current.instance.destroy();
  const ctx = { params, query, session, go, refreshNow: startPolling, showStatus };
  const instance = ROUTES[name].view.create(ctx);
  current = { name, instance };
  el.main.replaceChildren(instance.el);
  document.title = ROUTES[name].view.title + ' · rigshift';
  drawNav();
  showStatus('');
  startPolling();
}

// --- Polling ---

async function refreshOnce() {
  const work = [current.instance.refresh()];
  if (session.role === 'operator') work.push(refreshAlertBadge());
  await Promise.all(work);
}

function startPolling() {
  stopPolling();
  const gen = ++pollGen;
  const loop = async () => {
    if (gen !== pollGen || !current || document.hidden) return;
    try {
      await refreshOnce();
      if (gen === pollGen) {
        stampUpdated();
        if (el.status.classList.contains('status-poll')) showStatus('');
      }
    } catch (e) {
      if (gen === pollGen && !(e instanceof ApiError && e.status === 401)) {
        showStatus('could not refresh: ' + e.message, 'error status-poll');
      }
    }
    if (gen === pollGen) pollTimer = setTimeout(loop, POLL_MS);
  };
  loop();
}

function stopPolling() {
  pollGen++;
  clearTimeout(pollTimer);
}

document.addEventListener('visibilitychange', () => {
  if (!session || !current) return;
  if (document.hidden) stopPolling();
  else startPolling();
});

async function refreshAlertBadge() {
  const body = await api('/v1/alerts?acknowledged=false');
  alertCount = body.alerts.length;
  const badge = el.nav.querySelector('[data-testid="alert-count"]');
  if (badge) {
    badge.textContent = String(alertCount);
    badge.hidden = alertCount === 0;
  }
}

// --- Nav bar ---

function drawNav() {
  const links = Object.entries(ROUTES)
    .filter(([name, r]) => r.nav && allowed(name))
    .map(([name, r]) => {
      const active = current && (current.name === name ||
        (name === 'fleet' && current.name === 'node') ||
        (name === (session.role === 'tenant' ? 'mine' : 'leases') && current.name === 'logs'));
      const count = name === 'alerts'
        ? ` <span class="nav-badge" data-testid="alert-count"${alertCount ? '' : ' hidden'}>${esc(alertCount ?? '')}</span>`
        : '';
      return `<a href="#/${name}" data-testid="nav-${name}" class="${active ? 'active' : ''}">` +
        `${esc(r.view.title)}${count}</a>`;
    });
  el.nav.innerHTML = links.join('');
}

// --- Session ---

function showLogin(message = '') {
  stopPolling();
  if (current && current.instance.destroy) current.instance.destroy();
  current = null;
  session = null;
  el.nav.hidden = true;
  el.session.hidden = true;
  showStatus('');
  document.title = 'Log in · rigshift';
  el.main.replaceChildren(loginView.create({ login: tryLogin, message }).el);
}

// Checks a token with /v1/whoami; keeps it only when the server accepts it.
async function tryLogin(token) {
  token = token.trim().replace(/^Bearer\s+/i, '');  // pasted from a curl line, say
  if (!token) throw new Error('paste a token first');
  let who;
  try {
    who = await api('/v1/whoami', { token });
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) throw new Error('token refused: ' + e.message);
    throw new Error('could not log in: ' + e.message);
  }
  if (!HOME[who.role]) throw new Error(`token refused: a ${who.role} token cannot use the console`);
  setToken(token);
  startSession(who);
}

function startSession(who) {
  session = who;
  el.who.textContent = who.role === 'tenant' ? 'tenant ' + who.tenant : 'operator';
  el.nav.hidden = false;
  el.session.hidden = false;
  route();
}

function logout() {
  clearToken();
  history.replaceState(null, '', location.pathname);
  showLogin();
}

setUnauthenticatedHandler((err) => {
  if (!session) return;
  clearToken();
  showLogin('logged out: the server no longer accepts this token (' + err.message + ')');
});

// A token in the URL fragment (#token=...), as `make demo` prints it: use it once, then drop it
// from the address bar and the history.
function takeTokenFromUrl() {
  const m = location.hash.match(/^#token=([^&]+)/);
  if (!m) return null;
  history.replaceState(null, '', location.pathname + '#/');
  return decodeURIComponent(m[1]);
}

async function boot() {
  el.logout.addEventListener('click', logout);
  window.addEventListener('hashchange', route);
  const fromUrl = takeTokenFromUrl();
  const token = fromUrl || getToken();
  if (!token) return showLogin();
  try {
    await tryLogin(token);
  } catch (e) {
    clearToken();
    showLogin(e.message);
  }
}

boot();
