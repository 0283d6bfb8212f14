// Plan (operator): replays a scenario (one the server knows, or TOML pasted or uploaded here) for
// some days and shows the simulator's report in a sandboxed frame.
// Data: GET /v1/plan/scenarios; POST /v1/plan -> {"report_url"}.

import { api } from '../api.js';
import { esc } from '../util.js';

export default {
  title: 'Plan',
  create() {
    const el = document.createElement('section');
    el.className = 'view view-plan';
    el.innerHTML = `
      <h1>Plan</h1>
      <p class="muted">Replays history for a farm: what hybrid operation (AI leases where they pay, mining on the best coin,
        off when neither covers power) would have earned, GPU by GPU.</p>
      <form class="form plan-form" data-testid="plan-form">
        <div class="form-row">
          <label>Scenario on the server
            <select name="scenario" data-testid="plan-scenario"><option value="">loading…</option></select>
          </label>
          <label>or a scenario file
            <input type="file" name="file" accept=".toml,text/plain" data-testid="plan-file">
          </label>
          <label>Days
            <input type="number" name="days" value="7" min="1" max="366" step="1" data-testid="plan-days">
          </label>
          <button type="submit" class="btn-primary" data-testid="plan-run">Run</button>
        </div>
        <label class="wide">or paste scenario TOML (used when not empty)
          <textarea name="toml" rows="6" spellcheck="false" data-testid="plan-toml"
            placeholder="[scenario]&#10;name = &quot;my-farm&quot;&#10;..."></textarea>
        </label>
        <p class="form-status" data-testid="plan-status" hidden></p>
      </form>
      <div data-part="report"></div>`;
    const form = el.querySelector('form');
    const status = el.querySelector('[data-testid="plan-status"]');
    let loaded = false;

    function say(text, tone) {
      status.textContent = text;
      status.className = 'form-status ' + (tone || '');
      status.hidden = !text;
    }

    form.file.addEventListener('change', async () => {
      const file = form.file.files[0];
      if (file) form.toml.value = await file.text();
    });

    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const days = Number(form.days.value);
      const toml = form.toml.value.trim();
      const body = toml ? { toml, days } : { scenario: form.scenario.value, days };
      if (!toml && !form.scenario.value) return say('pick a scenario or paste one', 'error');
      const button = form.querySelector('button[type="submit"]');
      button.disabled = true;
      say(`running… (${days} day${days === 1 ? '' : 's'} of ${toml ? 'the pasted scenario' : body.scenario})`, 'busy');
      const started = Date.now();
      try {
        const result = await api('/v1/plan', { method: 'POST', body });
        say(`done in ${((Date.now() - started) / 1000).toFixed(1)} s`, 'ok');
        showReport(result.report_url);
      } catch (e) {
        say('plan failed: ' + e.message, 'error');
      } finally {
        button.disabled = false;
      }
    });

    function showReport(url) {
      const report = el.querySelector('[data-part="report"]');
      report.innerHTML = `<p><a href="${esc(url)}" target="_blank" rel="noopener" data-testid="plan-report-link">Open the report in a new tab</a></p>` +
        `<iframe class="plan-report" sandbox="allow-scripts" src="${esc(url)}" title="Plan report" data-testid="plan-report"></iframe>`;
    }

    async function refresh() {
      if (loaded) return;
      const { scenarios, max_days: maxDays } = await api('/v1/plan/scenarios');
      if (maxDays) form.days.max = String(maxDays);
      form.scenario.innerHTML = scenarios.map((s) => `<option value="${esc(s.name)}">${esc(s.name)}</option>`).join('') ||
        '<option value="">none on the server</option>';
      // The example scenario first, when the server offers it.
      if (scenarios.some((s) => s.name === 'scenario.toml')) form.scenario.value = 'scenario.toml';
      loaded = true;
    }
    return { el, refresh };
  },
};
