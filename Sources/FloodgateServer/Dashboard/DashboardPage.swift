/// The dashboard served at `/`: one self-contained page (no CDN, no build step) that polls `/api/dashboard` every
/// two seconds and draws Redis commands per minute by component as a line chart — the provider dashboard's "GET
/// line" — with the breakers, the tenant connections in back-off, the budget projection and the mode.
enum DashboardPage {
    static let html = """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <title>Floodgate</title>
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <style>
          body { font: 14px system-ui, sans-serif; margin: 24px; color: #222; background: #fafafa; }
          h1 { font-size: 20px; margin: 0 0 4px; }
          .sub { color: #666; margin-bottom: 16px; }
          .grid { display: grid; grid-template-columns: 2fr 1fr; gap: 16px; }
          .card { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 12px 16px; }
          .card h2 { font-size: 15px; margin: 0 0 8px; }
          table { border-collapse: collapse; width: 100%; }
          td, th { text-align: left; padding: 3px 6px; border-bottom: 1px solid #eee; }
          .mode { display: inline-block; padding: 2px 8px; border-radius: 10px; background: #e0f2e9; }
          .mode.degraded, .mode.budgetShedding { background: #fde2e1; }
          .mode.localOnly { background: #e8eaf6; }
          .open, .forcedOpen { color: #b3261e; font-weight: 600; }
          .halfOpen { color: #a15c00; }
          svg text { font-size: 11px; fill: #555; }
          .legend span { display: inline-block; margin-right: 12px; }
          .legend i { display: inline-block; width: 10px; height: 10px; margin-right: 4px; border-radius: 2px; }
        </style>
        </head>
        <body data-ready="0">
        <h1>Floodgate</h1>
        <div class="sub">instance <b id="instance">…</b> · mode <span id="mode" class="mode">…</span> · updated <span id="updated">never</span></div>
        <div class="card" style="margin-bottom:16px"><h2>The fleet</h2><div id="fleet"></div><table id="decisions"></table><table id="nearest" style="margin-top:8px"></table></div>
        <div class="grid">
          <div class="card">
            <h2>Redis commands per minute on this instance, by component</h2>
            <svg id="chart" width="100%" height="280" viewBox="0 0 720 280" data-points="0" data-total="0" role="img" aria-label="Redis commands per minute"></svg>
            <div class="legend" id="legend"></div>
            <div class="sub" id="total"></div>
          </div>
          <div>
            <div class="card"><h2>Breakers (fleet-wide)</h2><table id="breakers"></table></div>
            <div class="card" style="margin-top:16px"><h2>Back-offs (fleet-wide)</h2><table id="backoffs"></table></div>
            <div class="card" style="margin-top:16px"><h2>Command budget</h2><div id="budget">no budget configured</div></div>
            <div class="card" style="margin-top:16px"><h2>Response cache</h2><div id="cache"></div></div>
            <div class="card" style="margin-top:16px"><h2>Shadow mode: would have refused</h2><table id="shadow"></table></div>
          </div>
        </div>
        <script>
        "use strict";
        const colors = { rateLimit: "#1f77b4", breaker: "#d62728", backoff: "#ff7f0e", membership: "#2ca02c",
          budget: "#9467bd", cache: "#8c564b", health: "#7f7f7f", connection: "#bcbd22", unlabelled: "#17becf" };
        function text(tag, value) { const e = document.createElement(tag); e.textContent = value; return e; }
        function row(cells, cls) { const tr = document.createElement("tr"); cells.forEach(c => { const td = text("td", c); if (cls) td.className = cls; tr.appendChild(td); }); return tr; }
        function when(ms) { return ms ? new Date(ms).toLocaleTimeString() : ""; }
        function draw(data) {
          const svg = document.getElementById("chart");
          const perMinute = 60 / Math.max(1, data.intervalSeconds);
          const points = data.points;
          const components = new Set();
          points.forEach(p => Object.keys(p.byComponent).forEach(c => components.add(c)));
          if (components.size === 0) components.add("cache");
          const series = [...components].sort().map(c => ({ name: c, values: points.map(p => (p.byComponent[c] || 0) * perMinute) }));
          const max = Math.max(10, ...series.flatMap(s => s.values));
          const w = 720, h = 280, left = 48, bottom = 24, top = 8, right = 8;
          const x = i => left + (points.length <= 1 ? 0 : i * (w - left - right) / (points.length - 1));
          const y = v => top + (h - top - bottom) * (1 - v / max);
          let out = "";
          for (let k = 0; k <= 4; k++) {
            const v = max * k / 4;
            out += `<line x1="${left}" x2="${w - right}" y1="${y(v)}" y2="${y(v)}" stroke="#eee"/>`;
            out += `<text x="${left - 6}" y="${y(v) + 4}" text-anchor="end">${Math.round(v)}</text>`;
          }
          series.forEach(s => {
            const d = s.values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
            const color = colors[s.name] || "#333";
            out += `<polyline class="series" data-component="${s.name}" fill="none" stroke-width="2" stroke="${color}" points="${d}"/>`;
            s.values.forEach((v, i) => { out += `<circle cx="${x(i).toFixed(1)}" cy="${y(v).toFixed(1)}" r="2.5" fill="${color}"/>`; });
          });
          out += `<text x="${left}" y="${h - 6}">${points.length} samples, ${data.intervalSeconds} s apart (latest: in progress)</text>`;
          svg.innerHTML = out;
          svg.dataset.points = String(points.length);
          svg.dataset.total = String(Math.round(series.reduce((sum, s) => sum + s.values.reduce((a, b) => a + b, 0), 0)));
          const legend = document.getElementById("legend");
          legend.replaceChildren(...series.map(s => { const span = document.createElement("span"); const i = document.createElement("i"); i.style.background = colors[s.name] || "#333"; span.append(i, s.name); return span; }));
          const last = points[points.length - 1];
          const total = last ? Object.values(last.byComponent).reduce((a, b) => a + b, 0) : 0;
          const failed = data.connectionAttemptsFailed ? `; ${data.connectionAttemptsFailed} failed connection attempts since start` : "";
          document.getElementById("total").textContent = data.redisConfigured
            ? `${total} commands in the interval in progress${failed}`
            : "no Redis configured: local-only mode sends no commands";
        }
        function render(data) {
          document.getElementById("instance").textContent = data.instance;
          const mode = document.getElementById("mode");
          mode.textContent = data.mode; mode.className = "mode " + data.mode;
          document.getElementById("updated").textContent = new Date().toLocaleTimeString();
          draw(data);
          const f = data.fleet;
          const perMinute = f.commandsPerMinute == null ? "not measured yet" : `${Math.round(f.commandsPerMinute)} Redis commands a minute`;
          const scope = f.scope === "fleet" ? `the fleet's ${f.members} members (the budget's shared counter)` : "this instance (configure floodgate.budget for the fleet's)";
          const cost = f.costPerMonth == null ? "" : ` · ${f.commandsPerDayAtThisRate} a day at this rate · $${f.costPerMonth.toFixed(2)} a month at $${f.pricePer100k} per 100,000`;
          document.getElementById("fleet").textContent = `${perMinute} — ${scope}${cost}`;
          const reasons = ["allowed", "rate_limited", "breaker_open", "provider_backoff", "other"];
          const decisions = Object.entries(f.decisions).sort();
          document.getElementById("decisions").replaceChildren(row(["decisions on this instance", ...reasons]),
            ...(decisions.length ? decisions.map(([integration, counts]) => row([integration, ...reasons.map(r => String(counts[r] || 0))])) : [row(["none yet"])]));
          document.getElementById("nearest").replaceChildren(row(["keys nearest what this instance holds (calls on pool grants not counted)", "policy", "used", "share"]),
            ...(f.nearest.length ? f.nearest.map(n => row([n.key, n.policy, String(n.used), String(n.share)])) : [row(["no share spent yet"])]));
          const breakers = document.getElementById("breakers");
          breakers.replaceChildren(row(["integration", "state", "until"]), ...data.breakers.map(b => row([b.integration, b.state, when(b.openUntil)], b.state)));
          const backoffs = document.getElementById("backoffs");
          backoffs.replaceChildren(...(data.backoffs.length ? data.backoffs.map(b => row([b.key, "until " + when(b.until)])) : [row(["none"])]));
          const budget = document.getElementById("budget");
          if (data.budget) {
            budget.textContent = `${data.budget.level}: ${data.budget.usedToday} used today, ${data.budget.projected} projected` +
              (data.budget.allowance ? ` of ${data.budget.allowance} allowed` : "");
          }
          const c = data.cache;
          document.getElementById("cache").textContent = `invalidation by ${c.invalidation}; directory ${c.directory}, ` +
            `${c.directoryEntries} keys; ${c.readsSkipped} Redis reads skipped, ${c.redisMisses} GETs found nothing`;
          const shadow = document.getElementById("shadow");
          const wouldRefuse = data.shadow ? Object.entries(data.shadow.wouldRefuse).flatMap(([integration, reasons]) =>
            Object.entries(reasons).map(([reason, calls]) => row([integration, reason, String(calls)]))) : [];
          shadow.replaceChildren(...(data.shadow ? [row(["shadowed: " + data.shadow.integrations.join(", ")]), ...wouldRefuse] : [row(["off"])]));
          document.body.dataset.ready = "1";
        }
        async function refresh() {
          try {
            const response = await fetch("/api/dashboard", { cache: "no-store" });
            if (response.ok) render(await response.json());
          } catch (e) {
            document.getElementById("updated").textContent = "unreachable";
          }
        }
        refresh();
        setInterval(refresh, 2000);
        </script>
        </body>
        </html>
        """
}
