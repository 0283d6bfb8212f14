// The one way the console talks to the server: fetch with the session's bearer token, JSON in and
// out, and the server's error body ({"error": {"code", "message"}}) turned into an ApiError whose
// message is the server's own words.

const TOKEN_KEY = 'rigshift.token';

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export function getToken() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(token) {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function clearToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

// Called with the ApiError of any 401, so the app can go back to the login form.
let onUnauthenticated = () => {};
export function setUnauthenticatedHandler(fn) {
  onUnauthenticated = fn;
}

async function errorFrom(response) {
  let code = 'http_' + response.status;
  let message = response.statusText || 'HTTP ' + response.status;
  try {
    const body = await response.json();
    if (body && body.error) {
      code = body.error.code || code;
      message = body.error.message || message;
    }
  } catch {
    // Not JSON (a proxy's page, an empty body): keep the status line.
  }
  return new ApiError(response.status, code, message);
}

async function send(path, { method = 'GET', body, token } = {}) {
  const headers = {};
  const bearer = token ?? getToken();
  if (bearer) headers['Authorization'] = 'Bearer ' + bearer;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
    });
  } catch (e) {
    throw new ApiError(0, 'network', 'server unreachable: ' + e.message);
  }
  if (!response.ok) {
    const err = await errorFrom(response);
    if (err.status === 401 && token === undefined) onUnauthenticated(err);
    throw err;
  }
  return response;
}

// JSON routes. `token` overrides the session's (the login form checks a token before keeping it).
export async function api(path, options = {}) {
  const response = await send(path, options);
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

// Raw text routes (workload logs): the body and the response headers.
export async function apiText(path, options = {}) {
  const response = await send(path, options);
  return { text: await response.text(), headers: response.headers };
}
