// The login form: the user pastes an API token (operator or tenant); the shell checks it with
// GET /v1/whoami and keeps it in sessionStorage. A refused token shows the server's reason here.

import { esc } from '../util.js';

export default {
  title: 'Log in',
  create({ login, message }) {
    const el = document.createElement('section');
    el.className = 'login';
    el.innerHTML = `
      <form class="login-box" data-testid="login-form" autocomplete="off">
        <h1>rigshift console</h1>
        <p class="muted">Paste an API token: the operator's (<code>operator.token</code> in the server's
          data folder, <code>rigshift-data/</code> unless <code>--data-dir</code> says otherwise) or a
          tenant's (<code>tenant-NAME.token</code> there, or from <code>rigshift token create</code>).</p>
        <label>Token
          <input type="password" name="token" data-testid="login-token" spellcheck="false" required>
        </label>
        <button type="submit" class="btn-primary" data-testid="login-submit">Log in</button>
        <p class="error" data-testid="login-error"${message ? '' : ' hidden'}>${esc(message)}</p>
      </form>`;
    const form = el.querySelector('form');
    const error = el.querySelector('[data-testid="login-error"]');
    const button = el.querySelector('button');
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      button.disabled = true;
      error.hidden = true;
      try {
        await login(form.token.value);
      } catch (e) {
        error.textContent = e.message;
        error.hidden = false;
      } finally {
        button.disabled = false;
      }
    });
    return { el, refresh: async () => {} };
  },
};
