// api.js calls the platform's REST API on this origin with the session's bearer token. An
// error answer (RFC 9457 problem+json) becomes an ApiError carrying the fields at fault.
import {current} from './session.js';

/** ApiError is a failed call: status 0 when the server did not answer. */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
    this.fields = Array.isArray(problem.errors) ? problem.errors : [];
  }
}

/**
 * api calls method path; opts: query (object), body (JSON), raw + contentType (a file),
 * cookies (send the accounts session cookie instead of the bearer token), headers (more).
 */
export async function api(method, path, opts = {}) {
  let url = path;
  if (opts.query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(opts.query)) {
      if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
    }
    const qs = q.toString();
    if (qs) url += '?' + qs;
  }
  const headers = {Accept: 'application/json, application/problem+json'};
  const session = current();
  if (session && !opts.cookies) headers.Authorization = 'Bearer ' + session.token;
  Object.assign(headers, opts.headers || {});
  let body;
  if (opts.raw !== undefined) {
    body = opts.raw;
    headers['Content-Type'] = opts.contentType || 'application/octet-stream';
  } else if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers['Content-Type'] = 'application/json';
  }
  let res;
  try {
    res = await fetch(url, {method, headers, body, credentials: opts.cookies ? 'same-origin' : 'omit', cache: 'no-store'});
  } catch {
    throw new ApiError(0, {title: 'No answer', detail: 'The server did not answer: check the connection and try again.'});
  }
  const text = await res.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = {detail: text.slice(0, 300)};
    }
  }
  if (!res.ok) {
    const err = new ApiError(res.status, data || {title: res.statusText});
    // Only a refused bearer token ends the session: a wrong password at sign-in is the form's error.
    if (res.status === 401 && headers.Authorization) window.dispatchEvent(new CustomEvent('clearsky:unauthenticated', {detail: err}));
    throw err;
  }
  data = data || {};
  Object.defineProperty(data, '_status', {value: res.status, enumerable: false});
  return data;
}

/** get is a GET with query parameters. */
export const get = (path, query) => api('GET', path, {query});
/** post sends a JSON body. */
export const post = (path, body) => api('POST', path, {body});
/** put sends a JSON body. */
export const put = (path, body) => api('PUT', path, {body});
/** seg escapes one path segment (plates carry Chinese characters). */
export const seg = s => encodeURIComponent(String(s));

/** settle runs the calls together; each result is {ok, value} or {ok: false, error}. */
export async function settle(calls) {
  const out = await Promise.allSettled(calls);
  return out.map(r => (r.status === 'fulfilled' ? {ok: true, value: r.value} : {ok: false, error: r.reason}));
}

/** pages follows next_cursor up to max items. */
export async function pages(path, query = {}, max = 500) {
  const items = [];
  let cursor;
  do {
    const page = await get(path, {...query, limit: Math.min(500, max - items.length), cursor});
    items.push(...(page.items || []));
    cursor = page.next_cursor;
  } while (cursor && items.length < max);
  return items;
}
