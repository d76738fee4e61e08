// session.js keeps the bearer token for this browser tab (sessionStorage: gone when the tab
// closes) and decodes its claims for display and navigation only. The API verifies the token
// and enforces every permission; nothing here is a security decision.

const KEY = 'clearsky.token';
const CSRF = 'clearsky.csrf'; // the accounts session's CSRF token, when signed in with a password

export const ROLES = ['police', 'fleet', 'station', 'lab', 'bureau', 'construction', 'transport', 'repair', 'sensor', 'admin'];

/** decode reads a JWT's claims without verifying it. It throws an Error saying what is wrong. */
export function decode(token) {
  const t = String(token || '').trim().replace(/^Bearer\s+/i, '');
  const segs = t.split('.');
  if (segs.length !== 3 || segs.some(s => !/^[A-Za-z0-9_-]+$/.test(s))) {
    throw new Error('This is not a token: paste the last line printed by `clearsky token -role ROLE`.');
  }
  let claims;
  try {
    const b64 = segs[1].replace(/-/g, '+').replace(/_/g, '/');
    const bin = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
    claims = JSON.parse(new TextDecoder().decode(Uint8Array.from(bin, c => c.charCodeAt(0))));
  } catch {
    throw new Error('The token cannot be read: it was cut or changed when copied.');
  }
  if (!claims || typeof claims !== 'object' || !claims.role) {
    throw new Error('The token names no role.');
  }
  if (!ROLES.includes(claims.role)) {
    throw new Error(`The console has no pages for the role "${claims.role}".`);
  }
  if (claims.exp && claims.exp * 1000 < Date.now()) {
    throw new Error('The token has expired: get a new one.');
  }
  return {token: t, role: claims.role, tenant: claims.tenant || '', subject: claims.sub || '', exp: claims.exp || 0};
}

/** current returns the signed-in session, or null. An expired token signs the user out. */
export function current() {
  let t;
  try {
    t = sessionStorage.getItem(KEY);
  } catch {
    return null;
  }
  if (!t) return null;
  try {
    return decode(t);
  } catch {
    signOut();
    return null;
  }
}

/** signIn stores a token after checking that it can be read. */
export function signIn(token) {
  const s = decode(token);
  sessionStorage.setItem(KEY, s.token);
  return s;
}

/** signOut forgets the token (and the password session's CSRF token). */
export function signOut() {
  try {
    sessionStorage.removeItem(KEY);
    sessionStorage.removeItem(CSRF);
  } catch { /* storage unavailable: nothing kept */ }
}

/**
 * exchange asks the accounts service for an access token for the session cookie (a few
 * minutes' life) and signs in with it. The cookie is HttpOnly: only the CSRF token is kept here.
 */
export async function exchange(csrf) {
  const res = await fetch('/v1/auth/token', {method: 'POST', credentials: 'same-origin', cache: 'no-store',
    headers: {Accept: 'application/json, application/problem+json', 'X-CSRF-Token': csrf}});
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw Object.assign(new Error(data.detail || data.title || `HTTP ${res.status}`), {status: res.status, problem: data});
  const s = signIn(data.access_token);
  sessionStorage.setItem(CSRF, csrf);
  return {session: s, expiresIn: data.expires_in || 300};
}

let refreshTimer = 0;

/** keepFresh renews a password session's access token before it expires, while the tab lives. */
export function keepFresh(expiresIn) {
  clearTimeout(refreshTimer);
  let csrf;
  try {
    csrf = sessionStorage.getItem(CSRF);
  } catch {
    return;
  }
  if (!csrf) return;
  refreshTimer = setTimeout(async () => {
    try {
      const {expiresIn: next} = await exchange(csrf);
      keepFresh(next);
    } catch {
      signOut();
      window.dispatchEvent(new CustomEvent('clearsky:unauthenticated', {detail: new Error('the session ended')}));
    }
  }, Math.max(10, expiresIn - 60) * 1000);
}

/**
 * takeTokenFromURL signs in with a token passed in the link (#token=... or ?token=...) and
 * removes it from the address bar and the history at once.
 */
export function takeTokenFromURL() {
  const url = new URL(location.href);
  let token = url.searchParams.get('token');
  const hash = new URLSearchParams(url.hash.startsWith('#token=') ? url.hash.slice(1) : '');
  token = token || hash.get('token');
  if (!token) return {};
  url.searchParams.delete('token');
  if (url.hash.startsWith('#token=')) url.hash = '';
  history.replaceState(null, '', url.pathname + url.search + url.hash);
  try {
    return {session: signIn(token)};
  } catch (e) {
    return {error: e.message};
  }
}
