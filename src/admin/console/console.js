// The fss console: every number on it comes from the admin API, called with the session
// cookie set at login and the CSRF token on every state-changing call.
'use strict';

const $ = (sel) => document.querySelector(sel);
let session = null;
let view = 'services';
let timer = null;
let live = null;

/** An element with attributes (`on*` are listeners) and children (strings become text). */
function el(tag, attrs = {}, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'class') e.className = v;
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const k of kids.flat()) if (k !== null && k !== undefined) e.append(k instanceof Node ? k : String(k));
  return e;
}

function notice(text, isError) {
  const n = $('#notice');
  n.textContent = text || '';
  n.className = isError ? 'error' : '';
}

/** Calls the admin API; answers the parsed JSON (null for 204), or throws its errorMessage. */
async function api(method, url, body) {
  const headers = { 'X-Requested-With': 'fss-console' };
  if (method !== 'GET' && session) headers['X-CSRF-Token'] = session.csrfToken;
  let payload = body;
  if (body && !(body instanceof FormData)) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  const r = await fetch(url, { method, headers, body: payload, credentials: 'same-origin' });
  if (r.status === 401 && url !== '/console/session') { showLogin('The session has ended: log in again.'); throw new Error('logged out'); }
  const text = await r.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch (e) { json = null; }
  if (!r.ok) throw new Error((json && (json.errorMessage || json.message)) || `${r.status} ${r.statusText}`);
  return json;
}

const may = (p) => session && session.privileges.includes(p);
const isAdmin = () => may('access-rest-api');

function showLogin(message) {
  session = null;
  stopLive();
  $('#tabs').hidden = true; $('#who').hidden = true;
  document.querySelectorAll('.view').forEach((v) => { v.hidden = true; });
  $('#login').hidden = false;
  notice(message || '', Boolean(message));
  $('#login-user').focus();
}

function showApp() {
  $('#login').hidden = true;
  $('#tabs').hidden = false; $('#who').hidden = false;
  $('#user').textContent = session.user;
  document.querySelectorAll('#tabs button').forEach((b) => {
    b.hidden = !isAdmin() && b.dataset.view !== 'latency';
  });
  notice('');
  show(isAdmin() ? view : 'latency');
}

function show(name, keepNotice) {
  view = name;
  if (!keepNotice) notice('');
  document.querySelectorAll('.view').forEach((v) => { v.hidden = v.id !== name; });
  document.querySelectorAll('#tabs button').forEach((b) => {
    if (b.dataset.view === name) b.setAttribute('aria-current', 'page'); else b.removeAttribute('aria-current');
  });
  stopLive();
  refresh();
  if (name === 'executions' || name === 'latency') startLive();
}

/** Server-sent events while a live page shows: each new execution refreshes it (at most
 * every 300 ms); when the stream fails, a poll every 5 s until it is back. */
function startLive() {
  if (!isAdmin()) { timer = setInterval(() => { if (!document.hidden) refresh(); }, 5000); return; }
  let pending = null;
  live = new EventSource('/api/runtime/execution-events');
  live.addEventListener('execution', () => {
    if ($('#exec-filter').elements.live.checked || view === 'latency') {
      if (!pending) pending = setTimeout(() => { pending = null; refresh(); }, 300);
    }
  });
  live.addEventListener('open', () => { clearInterval(timer); timer = null; document.body.dataset.live = 'open'; });
  live.addEventListener('error', () => { if (!timer) timer = setInterval(() => { if (!document.hidden) refresh(); }, 5000); });
}

function stopLive() {
  if (live) { live.close(); live = null; }
  delete document.body.dataset.live;
  clearInterval(timer); timer = null;
}

async function refresh() {
  try {
    if (view === 'services') await services();
    else if (view === 'executions') await executions();
    else if (view === 'latency') await latency();
    else if (view === 'health') await health();
  } catch (e) { if (e.message !== 'logged out') notice(e.message, true); }
}

// --- services -------------------------------------------------------------------------

async function services() {
  const [routes, versions] = await Promise.all([
    api('GET', '/api/repository/routes'),
    api('GET', '/api/repository/services?latest=true&keyLike=%25&size=10000'),
  ]);
  const byName = new Map();
  for (const r of routes.data) {
    if (!byName.has(r.service)) byName.set(r.service, []);
    byName.get(r.service).push(r);
  }
  const names = [...byName.keys()].sort();
  $('#service-names').replaceChildren(...names.map((n) => el('option', { value: n })));
  const list = $('#service-list');
  list.replaceChildren(...names.map((name) => {
    const rs = byName.get(name);
    const first = rs[0];
    const version = versions.data.find((v) => v.key === name);
    const state = el('span', { class: 'badge' }, 'checking…');
    fetch(`/fs/${encodeURIComponent(name)}/health`).then((r) => {
      state.textContent = r.ok ? 'answers' : `HTTP ${r.status}`;
      state.classList.add(r.ok ? 'ok' : 'bad');
    }, () => { state.textContent = 'no answer'; state.classList.add('bad'); });
    const undeploy = first.deploymentId ? el('button', {
      type: 'button', class: 'danger',
      onclick: async () => {
        if (!confirm(`Undeploy ${name}? Its deployment ${first.deploymentId} is deleted and its URLs stop answering.`)) return;
        try { await api('DELETE', `/api/repository/deployments/${encodeURIComponent(first.deploymentId)}`); notice(`${name} undeployed.`); services(); }
        catch (e) { notice(e.message, true); }
      },
    }, 'Undeploy') : el('span', { class: 'hint' }, 'from the operations folder');
    return el('article', { class: 'service', 'aria-label': name },
      el('header', {}, el('h3', {}, name), state,
        el('span', { class: 'hint' }, first.version ? `version ${first.version}` : '',
          first.deploymentId ? ` · deployment ${first.deploymentId}` : '',
          version && version.deploymentTime ? ` · ${version.deploymentTime}` : ''),
        undeploy),
      el('table', {}, el('thead', {}, el('tr', {}, el('th', {}, 'Method'), el('th', {}, 'URL'), el('th', {}, 'Operation'))),
        el('tbody', {}, rs.map((r) => el('tr', {}, el('td', {}, r.method), el('td', {}, el('code', {}, r.path)), el('td', {}, r.kind))))));
  }));
  if (!names.length) list.replaceChildren(el('p', {}, 'No service is mounted.'));
}

async function deploy(file) {
  if (!file) return;
  const form = new FormData();
  form.append('file', file, file.name);
  notice(`Deploying ${file.name}…`);
  try {
    const d = await api('POST', '/api/repository/deployments', form);
    notice(`Deployed ${file.name}: deployment ${d.id}.`);
    show('services', true);
  } catch (e) { notice(`${file.name} was not deployed: ${e.message}`, true); }
}

// --- executions -----------------------------------------------------------------------

const ms = (micros) => (micros >= 10000 ? `${(micros / 1000).toFixed(0)} ms` : `${(micros / 1000).toFixed(2)} ms`);

async function executions() {
  const f = new FormData($('#exec-filter'));
  const q = new URLSearchParams({ order: 'desc', size: '100' });
  for (const k of ['service', 'operation', 'status']) if (f.get(k)) q.set(k, f.get(k));
  const page = await api('GET', `/api/runtime/executions?${q}`);
  const since = Number(f.get('since') || 0);
  const cutoff = since ? Date.now() - since * 60000 : 0;
  const rows = page.data.filter((x) => !cutoff || Date.parse(x.startTime) >= cutoff);
  $('#exec-table tbody').replaceChildren(...rows.map((x) => el('tr', {
    class: 'pick', tabindex: '0', 'data-id': x.id,
    onclick: () => detail(x.id),
    onkeydown: (ev) => { if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); detail(x.id); } },
  }, el('td', {}, new Date(x.startTime).toLocaleTimeString()), el('td', {}, x.service), el('td', {}, x.operation),
  el('td', {}, x.name), el('td', {}, el('span', { class: x.status }, x.status)), el('td', { class: 'num' }, x.httpStatus),
  el('td', { class: 'num' }, ms(x.durationMicros)))));
  if (!rows.length) $('#exec-table tbody').replaceChildren(el('tr', {}, el('td', { colspan: '7' }, 'No execution matches.')));
}

async function detail(id) {
  const x = await api('GET', `/api/runtime/executions/${encodeURIComponent(id)}`);
  const kv = (k, v) => el('tr', {}, el('th', { scope: 'row' }, k), el('td', {}, v));
  const tracked = Object.entries(x.tracked || {});
  const box = $('#exec-detail');
  box.replaceChildren(...[el('h3', {}, `Execution ${x.id}`),
    el('table', {}, el('tbody', {},
      kv('Service', x.service), kv('Operation', `${x.operation} ${x.name || ''}`),
      kv('Outcome', el('span', { class: x.status }, `${x.status} (HTTP ${x.httpStatus})`)),
      kv('Started', x.startTime), kv('Duration', ms(x.durationMicros)),
      x.caller ? kv('Caller', JSON.stringify(x.caller)) : null,
      tracked.map(([k, v]) => kv(k, String(v))))),
    x.records ? el('div', {}, el('h3', {}, 'Records'), el('table', {}, el('tbody', {}, x.records.map((r) => kv(`#${r.index}`,
      el('span', { class: r.status === 'Fail' ? 'failed' : 'succeeded' }, `${r.status}${r.message ? `: ${r.message}` : ''}`)))))) : null,
    x.callback ? el('div', {}, el('h3', {}, 'Callback'), el('pre', {}, JSON.stringify(x.callback, null, 2))) : null,
    x.debug ? el('div', {}, el('h3', {}, 'Debug capture'), el('pre', {}, JSON.stringify(x.debug, null, 2))) : null,
    el('details', {}, el('summary', {}, 'The record as JSON'), el('pre', {}, JSON.stringify(x, null, 2)))].filter(Boolean));
  box.focus();
}

// --- latency --------------------------------------------------------------------------

function quantile(sorted, q) { return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : 0; }

function spark(values) {
  const max = Math.max(1, ...values);
  const pts = values.map((v, i) => `${(i * 100) / Math.max(1, values.length - 1)},${20 - (v / max) * 18}`).join(' ');
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('viewBox', '0 0 100 20'); svg.setAttribute('class', 'spark'); svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', `p99 by 30 s: ${values.map((v) => ms(v)).join(', ')}`);
  const line = document.createElementNS('http://www.w3.org/2000/svg', 'polyline');
  line.setAttribute('points', pts); svg.append(line);
  return svg;
}

async function latency() {
  if (!isAdmin()) { $('#lat-table tbody').replaceChildren(el('tr', {}, el('td', { colspan: '6' }, 'Execution records need access-rest-api.'))); return; }
  const page = await api('GET', '/api/runtime/executions?order=desc&size=5000');
  const now = Date.now(), span = 300000, bucket = 30000;
  const ops = new Map();
  for (const x of page.data) {
    const t = Date.parse(x.startTime);
    if (now - t > span) continue;
    const key = `${x.service}\u0000${x.operation} ${x.name || ''}`.trim();
    if (!ops.has(key)) ops.set(key, { service: x.service, op: `${x.operation} ${x.name || ''}`.trim(), all: [], buckets: Array.from({ length: span / bucket }, () => []) });
    const o = ops.get(key);
    o.all.push(x.durationMicros);
    o.buckets[Math.min(o.buckets.length - 1, Math.floor((now - t) / bucket))].push(x.durationMicros);
  }
  const rows = [...ops.values()].sort((a, b) => (a.service + a.op).localeCompare(b.service + b.op)).map((o) => {
    const s = [...o.all].sort((a, b) => a - b);
    const series = o.buckets.slice().reverse().map((b) => quantile(b.sort((x, y) => x - y), 0.99));
    return el('tr', {}, el('td', {}, o.service), el('td', {}, o.op), el('td', { class: 'num' }, (s.length / (span / 1000)).toFixed(2)),
      el('td', { class: 'num' }, ms(quantile(s, 0.5))), el('td', { class: 'num' }, ms(quantile(s, 0.99))), el('td', {}, spark(series)));
  });
  $('#lat-table tbody').replaceChildren(...(rows.length ? rows : [el('tr', {}, el('td', { colspan: '6' }, 'No execution in the last 5 minutes.'))]));
}

// --- health ---------------------------------------------------------------------------

async function health() {
  const r = await fetch('/readyz');
  const body = await r.json().catch(() => ({}));
  const ready = $('#ready');
  ready.textContent = r.ok ? 'ready' : `not ready: ${body.reason || r.status}`;
  ready.className = r.ok ? 'ok' : 'bad';
}

async function connectionTest() {
  const out = $('#test-result');
  out.replaceChildren(el('p', {}, 'Testing…'));
  const r = await fetch('/api/management/connection-test', { credentials: 'same-origin', headers: { 'X-Requested-With': 'fss-console' } });
  const body = await r.json().catch(() => ({}));
  out.replaceChildren(el('p', { class: r.ok ? 'ok' : 'bad' }, body.message || body.errorMessage || `HTTP ${r.status}`),
    el('pre', {}, JSON.stringify(body, null, 2)));
}

// --- wiring ---------------------------------------------------------------------------

document.addEventListener('DOMContentLoaded', async () => {
  $('#login-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      session = await api('POST', '/console/session', { user: $('#login-user').value, password: $('#login-password').value });
      $('#login-password').value = '';
      showApp();
    } catch (e) { notice(e.message, true); }
  });
  $('#logout').addEventListener('click', async () => {
    try { await api('DELETE', '/console/session'); } catch (e) { /* ended already */ }
    showLogin('Logged out.');
  });
  document.querySelectorAll('#tabs button').forEach((b) => b.addEventListener('click', () => show(b.dataset.view)));
  $('#exec-filter').addEventListener('change', () => executions().catch((e) => notice(e.message, true)));
  $('#exec-filter').addEventListener('submit', (ev) => ev.preventDefault());
  $('#run-test').addEventListener('click', connectionTest);
  $('#deploy-file').addEventListener('change', (ev) => deploy(ev.target.files[0]));
  const drop = $('#drop');
  drop.addEventListener('dragover', (ev) => { ev.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (ev) => { ev.preventDefault(); drop.classList.remove('over'); deploy(ev.dataTransfer.files[0]); });
  drop.addEventListener('keydown', (ev) => { if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); $('#deploy-file').click(); } });
  try {
    const r = await fetch('/console/session', { credentials: 'same-origin', headers: { 'X-Requested-With': 'fss-console' } });
    if (r.ok) { session = await r.json(); showApp(); } else showLogin();
  } catch (e) { showLogin(); }
});
