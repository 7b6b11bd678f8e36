// The one way the dashboard talks to attune: the public JSON API under /v1, with the key the
// operator typed (sessionStorage, so it is gone with the tab) in the X-Api-Key header, never
// in a URL, and the chosen app in X-Attune-App.

const KEY = 'attune.ui.key';
const APP = 'attune.ui.app';

export const session = {
  key: () => sessionStorage.getItem(KEY) || '',
  setKey: (k) => (k ? sessionStorage.setItem(KEY, k) : sessionStorage.removeItem(KEY)),
  app: () => sessionStorage.getItem(APP) || 'default',
  setApp: (a) => sessionStorage.setItem(APP, a),
};

/** A refused call: the status and the API's problem+json body (`detail`, `code`, `field`). */
export class ApiError extends Error {
  constructor(status, problem, path) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
    this.path = path;
  }
}

/** `method path` with an optional JSON body; resolves to the parsed answer. */
export async function api(path, { method = 'GET', body } = {}) {
  const headers = { Accept: 'application/json', 'X-Attune-App': session.app() };
  const key = session.key();
  if (key) headers['X-Api-Key'] = key;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const r = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch (_) {
    json = null;
  }
  if (!r.ok) throw new ApiError(r.status, json, path);
  return json;
}

/** A query string from an object, leaving out empty values. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}
