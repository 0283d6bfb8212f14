// New lease (tenant): asks for GPUs. The form follows the LeaseRequest schema of POST /v1/leases
// (api/openapi.yaml): gpus, models, min_vram_gb, interconnect, hours, kind,
// max_price_usd_per_gpu_h, workload {image, command, env}. The server's refusal (400, 403, 422,
// 429) is shown as it words it; a created lease opens My leases.
// Data: GET /v1/offers (models, prices); POST /v1/leases.

import { api } from '../api.js';
import { esc, fmtUsd, fmtNum } from '../util.js';

// Splits a command line on spaces; 'single' or "double" quotes keep spaces inside one argument.
export function splitCommand(line) {
  const args = [];
  let current = '';
  let quote = null;
  let started = false;
  for (const ch of line) {
    if (quote) {
      if (ch === quote) quote = null;
      else current += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      started = true;
    } else if (/\s/.test(ch)) {
      if (started) args.push(current);
      current = '';
      started = false;
    } else {
      current += ch;
      started = true;
    }
  }
  if (quote) throw new Error('command: a quote is not closed');
  if (started) args.push(current);
  return args;
}

// KEY=VALUE lines (blank lines and # comments skipped) into {"KEY": "VALUE"}.
export function parseEnv(text) {
  const env = {};
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const eq = line.indexOf('=');
    if (eq <= 0) throw new Error(`env line ${i + 1}: write KEY=VALUE`);
    env[line.slice(0, eq).trim()] = line.slice(eq + 1);
  });
  return env;
}

// The request body from the form; throws with a message the user can act on.
function requestFrom(form) {
  const body = { gpus: Number(form.gpus.value) };
  if (!Number.isInteger(body.gpus) || body.gpus < 1) throw new Error('GPUs: a whole number, 1 or more');
  if (form.model.value) body.models = [form.model.value];
  if (form.min_vram_gb.value) body.min_vram_gb = Number(form.min_vram_gb.value);
  body.interconnect = form.interconnect.value;
  if (form.hours.value) {
    body.hours = Number(form.hours.value);
    if (!(body.hours > 0)) throw new Error('hours: more than 0, or empty for until cancelled');
  }
  body.kind = form.kind.value;
  if (form.bid.value) body.max_price_usd_per_gpu_h = Number(form.bid.value);
  else if (body.kind === 'interruptible') throw new Error('an interruptible lease needs a bid (max price per GPU-hour)');
  const image = form.image.value.trim();
  const command = splitCommand(form.command.value.trim());
  const env = parseEnv(form.env.value);
  if (image || command.length) {
    body.workload = {};
    if (image) body.workload.image = image;
    if (command.length) body.workload.command = command;
    if (Object.keys(env).length) body.workload.env = env;
  } else if (Object.keys(env).length) {
    throw new Error('env needs a workload: give an image or a command');
  }
  return body;
}

function priceOf(offer, kind) {
  const p = offer && offer.prices.find((x) => x.kind === kind);
  return p ? p.usd_per_gpu_h : null;
}

export default {
  title: 'New lease',
  create({ query, go, session }) {
    const el = document.createElement('section');
    el.className = 'view view-new';
    el.innerHTML = `
      <h1>New lease</h1>
      <form class="form lease-form" data-testid="new-form" novalidate>
        <fieldset><legend>GPUs</legend>
          <div class="form-row">
            <label>Count <input type="number" name="gpus" min="1" step="1" value="1" required data-testid="new-gpus"></label>
            <label>Model <select name="model" data-testid="new-model"><option value="">any AI model</option></select></label>
            <label>Min VRAM (GB) <input type="number" name="min_vram_gb" min="0" step="1" placeholder="any" data-testid="new-vram"></label>
            <label>Interconnect <select name="interconnect" data-testid="new-interconnect">
              <option value="any">any</option><option value="node">within one node</option><option value="nvlink">one NVLink domain</option>
            </select></label>
          </div>
        </fieldset>
        <fieldset><legend>Terms</legend>
          <div class="form-row">
            <label>Hours <input type="number" name="hours" min="0" step="any" value="2" placeholder="until cancelled" data-testid="new-hours"></label>
            <label>Kind <select name="kind" data-testid="new-kind">
              <option value="on_demand">on-demand</option><option value="interruptible">interruptible (bid)</option><option value="reserved">reserved</option>
            </select></label>
            <label>Max price / bid ($/GPU-h) <input type="number" name="bid" min="0" step="0.001" placeholder="optional" data-testid="new-bid"></label>
          </div>
          <p class="muted" data-part="quote" data-testid="new-quote"></p>
        </fieldset>
        <fieldset><legend>Workload <span class="muted">(optional)</span></legend>
          <div class="form-row">
            <label class="grow">Image <input type="text" name="image" placeholder="localhost/train:1" spellcheck="false" data-testid="new-image"></label>
            <label class="grow">Command <input type="text" name="command" placeholder="python train.py --lr 0.1" spellcheck="false" data-testid="new-command"></label>
          </div>
          <label class="wide">Environment (KEY=VALUE, one per line)
            <textarea name="env" rows="3" spellcheck="false" data-testid="new-env"></textarea></label>
        </fieldset>
        <div class="form-actions">
          <button type="submit" class="btn-primary" data-testid="new-submit">Ask for GPUs</button>
          <a href="#/offers">Back to offers</a>
        </div>
        <p class="error" data-testid="new-error" hidden></p>
      </form>`;
    const form = el.querySelector('form');
    const error = el.querySelector('[data-testid="new-error"]');
    const quote = el.querySelector('[data-part="quote"]');
    let offers = [];

    for (const name of ['gpus', 'interconnect', 'kind', 'hours']) {
      if (query.get(name)) form[name].value = query.get(name);
    }

    function updateQuote() {
      const matching = offers.filter((o) => !form.model.value || o.model === form.model.value);
      const prices = matching.map((o) => priceOf(o, form.kind.value)).filter((p) => p !== null);
      if (!prices.length) { quote.textContent = ''; return; }
      const price = Math.min(...prices);
      const gpus = Number(form.gpus.value) || 0;
      const hours = Math.max(Number(form.hours.value) || 0, 0);
      const free = matching.reduce((s, o) => s + o.gpus_free, 0);
      const pays = form.kind.value === 'interruptible' ? 'the interruptible floor is' : 'list price';
      quote.textContent = `${pays} ${fmtUsd(price, 3)}/GPU-h` +
        (gpus ? ` · ${fmtUsd(price * gpus, 2)}/h for ${gpus} GPU(s)` : '') +
        (gpus && hours ? ` · ${fmtUsd(price * gpus * hours, 2)} for ${fmtNum(hours, hours % 1 ? 1 : 0)} h` : '') +
        ` · ${fmtNum(free)} free now`;
    }

    function fillModels() {
      const models = [...new Set(offers.map((o) => o.model))];
      const have = [...form.model.options].slice(1).map((o) => o.value);
      if (models.join('\n') === have.join('\n')) return;
      const wanted = form.model.value || query.get('model') || '';
      form.model.innerHTML = '<option value="">any AI model</option>' +
        models.map((m) => `<option value="${esc(m)}">${esc(m)}</option>`).join('');
      form.model.value = models.includes(wanted) ? wanted : '';
    }

    form.addEventListener('input', updateQuote);
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      error.hidden = true;
      let body;
      try {
        body = requestFrom(form);
      } catch (e) {
        error.textContent = e.message;
        error.hidden = false;
        return;
      }
      const button = form.querySelector('[type="submit"]');
      button.disabled = true;
      try {
        const lease = await api('/v1/leases', { method: 'POST', body });
        go(session.role === 'tenant' ? `#/mine?created=${lease.id}` : '#/leases');
      } catch (e) {
        error.textContent = `refused (${e.status || 'network'}): ${e.message}`;
        error.hidden = false;
      } finally {
        button.disabled = false;
      }
    });

    async function refresh() {
      offers = (await api('/v1/offers')).offers;
      fillModels();
      updateQuote();
    }
    return { el, refresh };
  },
};
