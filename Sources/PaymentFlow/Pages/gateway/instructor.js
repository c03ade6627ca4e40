// The instructor's class view: fetches /v1/instructor/merchants (the browser resends the Basic
// credentials it was asked for) and builds the tables with textContent only — an order id or a
// URL a student chose is shown as text, never interpreted as HTML.
"use strict";

function cell(row, text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  row.appendChild(td);
  return td;
}

function render(overview) {
  const body = document.querySelector("#merchants tbody");
  const details = document.getElementById("details");
  body.replaceChildren();
  details.replaceChildren();
  for (const merchant of overview.merchants) {
    const webhooks = merchant.webhooks;
    const row = document.createElement("tr");
    cell(row, merchant.merchant_id);
    cell(row, (merchant.notification_url || "—") + (merchant.allows_private_webhooks ? " (private allowed)" : ""));
    cell(row, String(merchant.transactions.length));
    cell(row, String(webhooks.delivered));
    cell(row, String(webhooks.waiting), webhooks.waiting > 0 ? "warn" : "");
    cell(row, String(webhooks.given_up), webhooks.given_up > 0 ? "bad" : "");
    cell(row, webhooks.last_result || "—");
    body.appendChild(row);

    if (merchant.transactions.length === 0) continue;
    const heading = document.createElement("h2");
    heading.textContent = merchant.merchant_id;
    const table = document.createElement("table");
    const head = document.createElement("tr");
    for (const name of ["order", "type", "status", "amount", "time"]) {
      const th = document.createElement("th");
      th.scope = "col";
      th.textContent = name;
      head.appendChild(th);
    }
    table.appendChild(head);
    for (const t of merchant.transactions) {
      const tr = document.createElement("tr");
      for (const value of [t.order_id, t.payment_type, t.transaction_status, t.gross_amount, t.transaction_time]) cell(tr, value);
      table.appendChild(tr);
    }
    details.append(heading, table);
  }
  document.getElementById("updated").textContent = "updated " + new Date().toLocaleTimeString();
}

async function refresh() {
  const status = document.getElementById("updated");
  try {
    const response = await fetch("/v1/instructor/merchants", { credentials: "same-origin", cache: "no-store" });
    if (!response.ok) throw new Error("the gateway answered " + response.status);
    render(await response.json());
  } catch (error) {
    status.textContent = "could not load: " + error.message;
  }
}

document.getElementById("refresh").addEventListener("click", refresh);
refresh();
setInterval(refresh, 5000);
