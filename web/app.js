// The page: the menu and a cart for anyone (logging in or registering is asked for at "Place
// order", and the cart survives it), opened from a table's QR code at that table; then the
// customer's orders, or the staff board — by the member's role. Plain DOM; every change from
// the server arrives over the live status socket and is drawn without a reload.

import * as api from "./api.js";
import { t, translatePage } from "./i18n.js";

translatePage();

const main = document.getElementById("main");
const alertBox = document.getElementById("alert");
const notice = document.getElementById("notice");
const won = (n) => `${n.toLocaleString("ko-KR")}원`;
// The shops are in Seoul: times are theirs, whatever the device's zone (the API's date and
// time fields are too).
const clock = (iso) =>
  new Date(iso).toLocaleTimeString("ko-KR", { timeZone: "Asia/Seoul", hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
const when = (iso) =>
  new Date(iso).toLocaleString("ko-KR", {
    timeZone: "Asia/Seoul", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23",
  });
const STATUS_WORDS = {
  AWAITING_PAYMENT: t("Waiting for payment"),
  PENDING: t("Waiting for the shop"),
  ACCEPTED: t("Being made"),
  READY: t("Ready for pickup"),
  COMPLETED: t("Picked up"),
  REJECTED: t("Rejected"),
  CANCELLED: t("Cancelled"),
};
const HOW = { CARD: t("card"), TRANSFER: t("bank transfer") };

/** How an order is paid, in words: "Paid by card", "Pay at pickup", … */
function paymentWords(o) {
  const how = HOW[o.payment_method];
  if (!how || o.payment_status === "AT_PICKUP") return o.status === "COMPLETED" ? t("Paid at pickup") : t("Pay at pickup");
  switch (o.payment_status) {
    case "PAID":
      return t("Paid by {0}", how);
    case "REFUNDED":
      return t("Refunded ({0})", how);
    default:
      return ["CANCELLED", "REJECTED"].includes(o.status) ? t("Not paid ({0})", how) : t("Not paid yet ({0})", how);
  }
}

function paymentBadge(o) {
  const p = (o.payment_status ?? "AT_PICKUP").toLowerCase().replace("_", "-");
  return h("span", { class: `badge pay pay-${p}` }, paymentWords(o));
}

// Orders only move forward: a read that answers late (or an event that overtook it) must not
// put an order back to an earlier status or payment.
const STATUS_RANK = { AWAITING_PAYMENT: 0, PENDING: 1, ACCEPTED: 2, READY: 3, COMPLETED: 4, REJECTED: 4, CANCELLED: 4 };
const PAY_RANK = { UNPAID: 0, PAID: 1, REFUNDED: 2 };
const later = (ranks, a, b) => (ranks[a] ?? -1) > (ranks[b] ?? -1);

/** `fresh` (an order as read), keeping what `old` knew that is further along. */
function merged(old, fresh) {
  if (!old) return fresh;
  const o = { ...fresh };
  if (later(STATUS_RANK, old.status, fresh.status)) {
    o.status = old.status;
    o.estimated_ready_at ??= old.estimated_ready_at;
  }
  // What staff said when accepting it may have come by the socket before the read knew it.
  o.accept_message ??= old.accept_message;
  o.order_number ??= old.order_number;
  if (later(PAY_RANK, old.payment_status, fresh.payment_status)) o.payment_status = old.payment_status;
  return o;
}

/** `h("button", {type: "button", onclick}, "text", child…)` */
function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c !== null && c !== undefined && c !== false) el.append(c);
  }
  return el;
}

/** Shows `e` in the alert. A `lasting` one (what came back from a provider's page) stays
 * until the person does something: background work (a reconnect reloading the orders)
 * does not clear it. */
function showError(e, lasting = false) {
  alertBox.textContent = e?.message ?? String(e);
  alertBox.hidden = false;
  alertBox.dataset.lasting = lasting ? "yes" : "";
}

function clearError() {
  alertBox.hidden = true;
  alertBox.textContent = "";
  alertBox.dataset.lasting = "";
}

function say(text) {
  notice.textContent = text;
}

/** Runs `f`, showing its failure in words; the button is busy meanwhile. */
async function act(button, f) {
  if (button || !alertBox.dataset.lasting) clearError();
  if (button) button.disabled = true;
  try {
    return await f();
  } catch (e) {
    showError(e);
  } finally {
    if (button) button.disabled = false;
  }
}

/** `text` without control characters (line breaks kept with `lines`), trimmed. */
function plain(text, lines = false) {
  return text.replace(lines ? /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/g : /[\u0000-\u001f\u007f-\u009f]/g, " ").trim();
}

/** One line of an order as the customer and the kitchen read it: "The Hawaiian Pizza (M) × 2
 * (치즈 크러스트, 치즈 추가)" — the options as the menu priced them, in its group order. */
const lineText = (i) =>
  `${i.pizza_nm} (${i.size}) × ${i.quantity}` + (i.options?.length ? ` (${i.options.map((o) => o.name).join(", ")})` : "");

/** "#42" on the board; nothing for an old (imported) order without a number. */
const numbered = (o, prefix) => (o.order_number == null ? null : `${prefix}${o.order_number}`);

function field(label, input) {
  const id = `f-${Math.random().toString(36).slice(2, 9)}`;
  input.id = id;
  return h("p", { class: "field" }, h("label", { for: id }, label), input);
}

let teardown = () => {};

/** Replaces the view: the old one's sockets and timers go first, then `make` draws the new. */
function render(make) {
  teardown();
  teardown = () => {};
  main.replaceChildren(make());
}

// ---------------------------------------------------------------------------------------
// Log in / register

// The cart and the table outlive a login (and the card checkout's round trip): they are kept
// in this tab's sessionStorage.
const CART_KEY = "pizza.cart";
const TABLE_KEY = "pizza.table";
const tableToken = (() => {
  const t = new URLSearchParams(location.search).get("table");
  if (t) sessionStorage.setItem(TABLE_KEY, t);
  return t ?? sessionStorage.getItem(TABLE_KEY);
})();

/** The log in and register forms; `note` says why they are asked for. */
function authView(note) {
  const id = h("input", { name: "member_id", autocomplete: "username", required: true, minlength: 3, maxlength: 20 });
  const pwd = h("input", { name: "password", type: "password", autocomplete: "current-password", required: true });
  const loginForm = h(
    "form",
    { class: "card", "aria-labelledby": "login-title" },
    h("h2", { id: "login-title" }, t("Log in")),
    field(t("Member ID"), id),
    field(t("Password"), pwd),
    h("button", { type: "submit" }, t("Log in")),
  );
  loginForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    act(loginForm.querySelector("button"), async () => {
      await api.login(id.value.trim(), pwd.value);
      say(t("Logged in."));
    });
  });

  const rid = h("input", { name: "new_member_id", autocomplete: "username", required: true, minlength: 3, maxlength: 20, pattern: "[A-Za-z0-9_]+" });
  const rname = h("input", { name: "member_nm", autocomplete: "name", required: true, maxlength: 50 });
  const rpwd = h("input", { name: "new_password", type: "password", autocomplete: "new-password", required: true, minlength: 8 });
  const regForm = h(
    "form",
    { class: "card", "aria-labelledby": "reg-title" },
    h("h2", { id: "reg-title" }, t("New here? Register")),
    field(t("Member ID (letters, digits, _)"), rid),
    field(t("Your name"), rname),
    field(t("Password (8 characters or more)"), rpwd),
    h("button", { type: "submit" }, t("Register and log in")),
  );
  regForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    act(regForm.querySelector("button"), async () => {
      await api.register(rid.value.trim(), rname.value.trim(), rpwd.value);
      await api.login(rid.value.trim(), rpwd.value);
      say(t("Welcome! You are registered and logged in."));
    });
  });
  const back = h("button", { type: "button", onclick: () => render(() => customerView(null)) }, t("Back to the menu"));
  // "Continue with Kakao / Naver / Google": only the providers that are on.
  const social = h("section", { class: "card social", "aria-labelledby": "social-title", hidden: true },
    h("h2", { id: "social-title" }, t("Or continue with")));
  api.providers().then((list) => {
    for (const p of list) {
      social.append(h("button", { type: "button", class: `social-${p.id}`, onclick: () => api.socialLogin(p.id) },
        t("Continue with {0}", providerName(p))));
    }
    social.hidden = list.length === 0;
  });
  const view = h("div", { class: "auth" }, note ? h("p", { class: "card note" }, note) : null, loginForm, social, regForm, back);
  queueMicrotask(() => id.focus());
  return view;
}

/** A provider's name as people here say it (카카오, 네이버). */
function providerName(p) {
  return t(p.name);
}


/** The member's ways to log in: linked providers (unlink), the others (link). */
function accountCard(member) {
  const list = h("ul", { class: "linked", "aria-label": t("Ways to log in") });
  const card = h("section", { class: "card", "aria-labelledby": "account-title" },
    h("h2", { id: "account-title" }, t("Your account")),
    h("p", {}, t("Member ID: {0}", member.member_id)),
    list);
  async function draw() {
    const [me, providers] = await Promise.all([api.call("GET", "/login/me/"), api.providers()]);
    const linked = new Set(me.linked.map((l) => l.provider));
    const rows = [];
    if (me.has_password) rows.push(h("li", {}, t("Password")));
    for (const p of providers) {
      const name = providerName(p);
      rows.push(linked.has(p.id)
        ? h("li", {}, t("{0}: linked", name), " ",
          h("button", { type: "button", onclick: (ev) => act(ev.currentTarget, async () => {
            await api.unlink(p.id);
            say(t("{0} is no longer linked to your account.", name));
            await draw();
          }) }, t("Unlink {0}", name)))
        : h("li", {}, h("button", { type: "button", onclick: (ev) => act(ev.currentTarget, () => api.link(p.id)) },
          t("Link {0}", name))));
    }
    list.replaceChildren(...rows);
  }
  act(null, draw);
  return card;
}

// ---------------------------------------------------------------------------------------
// Customer: menu, cart, my orders

/** The menu and the cart; with `member`, also placing orders and "My orders" (a visitor is
 * asked to log in or register at "Place order"). */
function customerView(member) {
  const state = { menu: [], category: null, cart: new Map(), key: null, orders: new Map(), table: null };
  // Read before the first draw (which keeps the cart as it is: empty until the menu is in).
  const kept = JSON.parse(sessionStorage.getItem(CART_KEY) ?? "[]");
  const branch = h("select", { name: "branch", required: true });
  const branchField = field(t("Branch"), branch);
  // Opened from a table's QR code: its branch and table, fixed.
  const here = h("p", { class: "table-here", hidden: true });
  const categories = h("div", { class: "tabs", role: "group", "aria-label": t("Categories") });
  const grid = h("ul", { class: "menu", "aria-label": t("Pizzas") });
  const cartList = h("ul", { class: "cart-lines", "aria-label": t("Cart") });
  const total = h("p", { class: "total" });
  const place = h("button", { type: "button", class: "primary" }, t("Place order"));
  const ordersList = h("ul", { class: "orders", "aria-label": t("My orders") });
  // On a phone the cart is below the menu: a bar at the bottom of the screen leads to it.
  const cartJump = h("a", { href: "#cart", class: "cart-jump", hidden: true });
  const liveState = h("span", { class: "live" }, t("connecting…"));

  // How to pay: at pickup (the default), by card now, or by bank transfer now (which needs
  // the name the transfer will come from: the shop matches the deposit by it).
  const PAY = [
    ["AT_PICKUP", t("Pay at pickup"), t("Place order")],
    ["CARD", t("Card, now"), t("Place order and pay by card")],
    ["TRANSFER", t("Bank transfer, now"), t("Place order and pay by transfer")],
  ];
  const payInputs = PAY.map(([value]) =>
    h("input", { type: "radio", name: "payment_method", value, checked: value === "AT_PICKUP" }),
  );
  const payChoice = h(
    "fieldset",
    { class: "pay-choice" },
    h("legend", {}, t("How will you pay?")),
    ...PAY.map(([, label], i) => h("label", { class: "choice" }, payInputs[i], h("span", {}, label))),
  );
  const payer = h("input", {
    name: "payer_name",
    autocomplete: "name",
    maxlength: 20,
    value: (member?.member_nm ?? "").slice(0, 20),
    "aria-describedby": "payer-hint",
  });
  const payerField = field(t("Name the transfer comes from"), payer);
  payerField.append(h("span", { class: "hint", id: "payer-hint" }, t("As your bank shows it, up to 20 characters.")));
  payerField.hidden = true;
  const method = () => payInputs.find((i) => i.checked)?.value ?? "AT_PICKUP";
  payChoice.addEventListener("change", () => {
    state.key = null; // paid another way is another order
    payerField.hidden = method() !== "TRANSFER";
    place.textContent = PAY.find(([v]) => v === method())[2];
  });
  payer.addEventListener("input", () => {
    state.key = null;
  });

  // What the kitchen should know ("no onions"): part of the order, so another text is another
  // order (a new idempotency key).
  const REQUESTS_MAX = 200;
  const requests = h("textarea", {
    name: "special_requests",
    rows: 2,
    maxlength: REQUESTS_MAX,
    "aria-describedby": "requests-count",
  });
  const requestsCount = h("span", { class: "hint counter", id: "requests-count" });
  const requestsField = field(t("Requests for the kitchen (optional)"), requests);
  requestsField.append(requestsCount);
  const countRequests = () => {
    const n = requests.value.length;
    requestsCount.textContent = t("{0} / {1} characters", n, REQUESTS_MAX);
    requestsCount.classList.toggle("full", n >= REQUESTS_MAX);
  };
  countRequests();
  requests.addEventListener("input", () => {
    state.key = null;
    countRequests();
  });

  function drawCategories() {
    const cats = [...new Set(state.menu.map((p) => p.pizza_categ))];
    state.category ??= cats[0];
    categories.replaceChildren(
      ...cats.map((c) =>
        h("button", {
          type: "button",
          "aria-pressed": String(c === state.category),
          onclick: () => {
            state.category = c;
            drawCategories();
            drawMenu();
          },
        }, t(c)),
      ),
    );
  }

  function drawMenu() {
    const types = new Map();
    for (const p of state.menu.filter((p) => p.pizza_categ === state.category)) {
      if (!types.has(p.pizza_type_id)) types.set(p.pizza_type_id, []);
      types.get(p.pizza_type_id).push(p);
    }
    grid.replaceChildren(
      ...[...types.values()].map((sizes) => {
        const first = sizes[0];
        return h(
          "li",
          { class: "pizza" },
          h("img", { src: api.API + first.pizza_img_url, alt: "", width: 64, height: 64, loading: "lazy" }),
          h("h3", {}, first.pizza_nm),
          first.description_ko ? h("p", { class: "description" }, first.description_ko) : null,
          h(
            "div",
            { class: "sizes" },
            ...sizes.map((p) =>
              h("button", {
                type: "button",
                disabled: !p.available,
                "aria-label": t(p.available ? "Add {0}, size {1}, {2}" : "Add {0}, size {1}, {2} (sold out)", first.pizza_nm, p.size, won(p.price)),
                onclick: () => add(p),
              }, `${p.size} · ${won(p.price)}`),
            ),
          ),
          first.has_options
            ? h("button", {
              type: "button",
              class: "choose",
              disabled: !sizes.some((p) => p.available),
              "aria-label": t("Choose options for {0}", first.pizza_nm),
              onclick: (e) => act(e.currentTarget, () => openSheet(first.pizza_type_id, e.currentTarget)),
            }, t("Options…"))
            : null,
        );
      }),
    );
  }

  /** A cart line's key: the pizza and its options (none: the house defaults). */
  const lineKey = (p, options) => (options ? `${p.pizza_id}|${options.map((o) => o.option_id).sort().join(",")}` : p.pizza_id);
  const unitPrice = (l) => l.pizza.price + (l.options ?? []).reduce((sum, o) => sum + o.price_delta, 0);
  const describe = (l) => `${l.pizza.pizza_nm} (${l.pizza.size})` + (l.options?.length ? ` · ${l.options.map((o) => o.name_ko).join(", ")}` : "");

  function add(p, options) {
    const key = lineKey(p, options);
    const line = state.cart.get(key) ?? { pizza: p, quantity: 0, options };
    line.quantity = Math.min(100, line.quantity + 1);
    state.cart.set(key, line);
    state.key = null; // another cart is another order
    drawCart();
    say(t("Added {0} ({1}). {2} in the cart.", p.pizza_nm, p.size, state.cart.size));
  }

  // The item sheet: one item's sizes and option groups, priced as the choice changes; what
  // it adds to the cart the menu prices again when the order is placed.
  const sheet = h("dialog", { class: "sheet", "aria-labelledby": "sheet-title" });
  async function openSheet(typeId, opener) {
    const at = state.table?.bran_id ?? branch.value;
    const item = await api.call("GET", `/menu/items/${encodeURIComponent(typeId)}/` + (at ? `?bran_id=${encodeURIComponent(at)}` : ""), { auth: false });
    const sizes = item.sizes.filter((z) => z.available);
    const sizeInputs = sizes.map((z, i) => h("input", { type: "radio", name: "sheet-size", value: z.pizza_id, checked: i === sizes.length - 1 }));
    const groups = item.option_groups.map((g) => {
      const single = g.max_choices === 1;
      const inputs = g.options.map((o) => h("input", {
        type: single ? "radio" : "checkbox",
        name: `sheet-${g.group_id}`,
        value: o.option_id,
        disabled: !o.available,
        checked: single && g.required && o.is_default && o.available,
      }));
      const rule = g.required
        ? (single ? t("required, choose 1") : t("required, {0} to {1}", g.min_choices, g.max_choices))
        : t("optional, up to {0}", g.max_choices);
      const box = h("fieldset", { class: "option-group" },
        h("legend", {}, `${g.name_ko} (${rule})`),
        ...g.options.map((o, i) => h("label", { class: "choice" }, inputs[i],
          h("span", {}, o.name_ko + (o.price_delta ? ` +${won(o.price_delta)}` : "") + (o.available ? "" : ` (${t("sold out")})`)))));
      // No more than its maximum: the other boxes wait while it is reached.
      box.addEventListener("change", () => {
        if (single) return;
        const n = inputs.filter((i) => i.checked).length;
        g.options.forEach((o, i) => { inputs[i].disabled = !o.available || (!inputs[i].checked && n >= g.max_choices); });
      });
      return { g, inputs, box };
    });
    const price = h("p", { class: "total", "aria-live": "polite" });
    const chosen = () => groups.flatMap(({ g, inputs }) => g.options.filter((o, i) => inputs[i].checked));
    const size = () => state.menu.find((p) => p.pizza_id === sizeInputs.find((i) => i.checked)?.value);
    const reprice = () => {
      const p = size();
      price.textContent = p ? t("Total {0}", won(p.price + chosen().reduce((sum, o) => sum + o.price_delta, 0))) : "";
    };
    const addButton = h("button", { type: "submit", class: "primary" }, t("Add to cart"));
    const form = h("form", { method: "dialog" },
      h("h2", { id: "sheet-title" }, item.pizza_nm),
      item.description_ko ? h("p", { class: "description" }, item.description_ko) : null,
      item.allergens.length ? h("p", { class: "hint" }, t("Allergens: {0}", item.allergens.map(allergenName).join(", "))) : null,
      h("fieldset", { class: "option-group" }, h("legend", {}, t("Size")),
        ...sizes.map((z, i) => h("label", { class: "choice" }, sizeInputs[i], h("span", {}, `${z.size} · ${won(z.price)}`)))),
      ...groups.map(({ box }) => box),
      price,
      h("p", { class: "actions" },
        h("button", { type: "button", onclick: () => sheet.close() }, t("Cancel")),
        " ",
        addButton));
    form.addEventListener("change", reprice);
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      // Each required group needs its choices; the menu checks again when the order is placed.
      const short = groups.find(({ g, inputs }) => inputs.filter((i) => i.checked).length < g.min_choices);
      if (short) {
        showError(new Error(t("Choose {0}.", short.g.name_ko)));
        return;
      }
      const p = size();
      if (!p) return;
      add(p, chosen().map((o) => ({ option_id: o.option_id, name_ko: o.name_ko, price_delta: o.price_delta })));
      sheet.close();
    });
    sheet.replaceChildren(form);
    sheet.onclose = () => opener?.focus();
    reprice();
    sheet.showModal();
  }

  function drawCart() {
    let sum = 0;
    cartList.replaceChildren(
      ...[...state.cart.entries()].map(([key, l]) => {
        sum += unitPrice(l) * l.quantity;
        const qty = h("input", { type: "number", min: 1, max: 100, value: l.quantity, class: "qty" });
        qty.addEventListener("change", () => {
          l.quantity = Math.max(1, Math.min(100, Number(qty.value) || 1));
          state.key = null;
          drawCart();
        });
        return h(
          "li",
          {},
          h("span", {}, describe(l)),
          field(t("Quantity"), qty),
          h("button", {
            type: "button",
            "aria-label": t("Remove {0}", describe(l)),
            onclick: () => {
              state.cart.delete(key);
              state.key = null;
              drawCart();
            },
          }, t("Remove")),
        );
      }),
    );
    if (!state.cart.size) cartList.append(h("li", { class: "empty" }, t("Your cart is empty.")));
    total.textContent = t("Total {0}", won(sum));
    place.disabled = state.cart.size === 0;
    const count = [...state.cart.values()].reduce((n, l) => n + l.quantity, 0);
    cartJump.textContent = t("Your order: {0} · {1} — review and order", count, won(sum));
    cartJump.hidden = state.cart.size === 0;
    sessionStorage.setItem(CART_KEY, JSON.stringify([...state.cart.values()].map((l) => [l.pizza.pizza_id, l.quantity, l.options ?? null])));
  }

  /** The cart kept from before (a login, the checkout), with today's prices. */
  function restoreCart() {
    for (const [id, quantity, options] of kept) {
      const pizza = state.menu.find((p) => p.pizza_id === id);
      if (pizza?.available) state.cart.set(lineKey(pizza, options ?? undefined), { pizza, quantity, options: options ?? undefined });
    }
    drawCart();
  }

  /** The menu as the chosen branch sells it (sold out there shows so). */
  async function loadMenu() {
    const at = state.table?.bran_id ?? branch.value;
    state.menu = await api.call("GET", at ? `/menu/?bran_id=${encodeURIComponent(at)}` : "/menu/", { auth: false });
    for (const l of state.cart.values()) {
      const now = state.menu.find((p) => p.pizza_id === l.pizza.pizza_id);
      if (now) l.pizza = now;
    }
    drawCategories();
    drawMenu();
    drawCart();
  }

  // Another branch is another order, too, with its own sold-outs.
  branch.addEventListener("change", () => {
    state.key = null;
    act(null, loadMenu);
  });

  place.addEventListener("click", async () => {
    if (!member) {
      drawCart();
      render(() => authView(t("Log in or register to place your order. Your cart is kept.")));
      return;
    }
    await act(place, async () => {
      const how = method();
      const body = {
        ...(state.table ? { table_token: tableToken } : { bran_id: branch.value }),
        items: [...state.cart.values()].map((l) => ({
          pizza_id: l.pizza.pizza_id,
          quantity: l.quantity,
          ...(l.options ? { options: l.options.map((o) => o.option_id) } : {}),
        })),
        payment_method: how,
      };
      const wish = plain(requests.value, true);
      if (wish) body.special_requests = wish;
      if (how === "TRANSFER") {
        body.payer_name = payer.value.trim();
        if (!body.payer_name) {
          payer.focus();
          throw new Error(t("Please give the name the bank transfer will come from (up to 20 characters)."));
        }
      }
      // One key per cart: a double click or a retry after an error is the same order.
      state.key ??= api.newKey();
      const order = await api.call("POST", "/order/", {
        headers: { "idempotency-key": state.key },
        body,
      });
      state.cart.clear();
      state.key = null;
      requests.value = "";
      countRequests();
      drawCart();
      keep(order);
      drawOrders();
      const no = order.order_number == null
        ? ""
        : " " + (order.table_label ? t("Your order number is {0} at table {1}.", order.order_number, order.table_label) : t("Your order number is {0}.", order.order_number));
      if (how === "CARD") {
        say(t("Order placed: {0}.", won(order.total_price)) + no + " " + t("Taking you to the card payment…"));
        await payByCard(order.order_id);
      } else if (how === "TRANSFER") {
        say(t("Order placed: {0}.", won(order.total_price)) + no + " " + t("Send it by bank transfer by {0}: the account is below.", clock(order.payment_due_at)));
        document.getElementById(`pay-${order.order_id}`)?.focus();
      } else {
        say(t("Order placed: {0}.", won(order.total_price)) + no + " " + t("We will show its status here as it changes."));
      }
    });
    // act() gives the button back; an empty cart takes it away again.
    place.disabled = state.cart.size === 0;
  });

  /** An order as read, merged with what the page knew of it. */
  function keep(o) {
    state.orders.set(o.order_id, merged(state.orders.get(o.order_id), o));
  }

  /** To the provider's card checkout (the tab comes back to this page when it is done). */
  async function payByCard(orderId) {
    try {
      await api.checkout(orderId);
    } catch (e) {
      throw new Error(payFailure(e));
    }
  }

  async function cancel(o, button) {
    const paid = o.payment_status === "PAID" ? " " + t("What you paid is refunded.") : "";
    if (!window.confirm(t("Cancel your order of {0} ({1})?", o.time.slice(0, 5), won(o.total_price)) + paid)) return;
    await act(button, async () => {
      keep(await api.call("POST", `/order/${o.order_id}/cancel/`, { body: {} }));
      drawOrders();
      say(t("Your order is cancelled."));
    });
  }

  function transferBox(o) {
    const tr = o.transfer;
    const account = h("span", { class: "account" }, tr.account_no);
    const copy = h("button", {
      type: "button",
      "aria-label": t("Copy the account number {0}", tr.account_no),
      onclick: async () => {
        try {
          await navigator.clipboard.writeText(tr.account_no);
          say(t("The account number is copied."));
        } catch {
          const r = document.createRange();
          r.selectNodeContents(account);
          getSelection().removeAllRanges();
          getSelection().addRange(r);
          say(t("The account number is selected: copy it from there."));
        }
      },
    }, t("Copy"));
    // Only the provider's app link (or a web page) is followed, whatever else comes back.
    const link = /^(supertoss|https):\/\//.test(tr.deep_link ?? "")
      ? h("a", { class: "button primary", href: tr.deep_link }, t("Open Toss to send it"))
      : null;
    return h(
      "div",
      { class: "transfer", id: `pay-${o.order_id}`, tabindex: -1, role: "group", "aria-label": t("How to pay by bank transfer") },
      h("p", {}, t("Send exactly {0} by {1}, from an account in the name {2}. Unpaid by then, the order is cancelled.", won(tr.amount), clock(o.payment_due_at), tr.payer_name)),
      h("dl", {},
        h("dt", {}, t("Bank")), h("dd", {}, tr.bank),
        h("dt", {}, t("Account number")), h("dd", {}, account, " ", copy),
        h("dt", {}, t("Amount")), h("dd", {}, won(tr.amount)),
        h("dt", {}, t("Sender's name")), h("dd", {}, tr.payer_name)),
      link,
    );
  }

  function orderItem(o) {
    const unpaid = o.status === "AWAITING_PAYMENT" && o.payment_status === "UNPAID";
    // Named with their visible text first (WCAG 2.5.3), then which order.
    const which = `${o.time.slice(0, 5)} (${won(o.total_price)})`;
    const actions = h("div", { class: "actions" });
    if (unpaid && o.payment_method === "CARD") {
      actions.append(h("button", {
        type: "button",
        class: "primary",
        "aria-label": t("Pay by card for the order of {0}", which),
        onclick: (ev) => act(ev.currentTarget, () => payByCard(o.order_id)),
      }, t("Pay by card")));
    }
    if (o.status === "AWAITING_PAYMENT" || o.status === "PENDING") {
      actions.append(h("button", {
        type: "button",
        "aria-label": t("Cancel order of {0}", which),
        onclick: (ev) => cancel(o, ev.currentTarget),
      }, t("Cancel order")));
    }
    const status = o.status === "AWAITING_PAYMENT" && o.payment_status === "PAID" ? t("Payment received") : STATUS_WORDS[o.status] ?? o.status;
    // What the shop said when accepting it, next to when it will be ready (and still there
    // once it is ready).
    const said = o.accept_message && ["ACCEPTED", "READY"].includes(o.status)
      ? h("span", { class: "said" }, t("The shop says: "), h("span", { class: "quote" }, `“${o.accept_message}”`))
      : null;
    const eta = o.estimated_ready_at && o.status === "ACCEPTED" ? t("Ready at about {0}", clock(o.estimated_ready_at)) : null;
    return h(
      "li",
      { class: "order", dataset: { orderId: o.order_id, status: o.status, payment: o.payment_status ?? "AT_PICKUP" } },
      numbered(o, t("Order ")) && h("p", { class: "order-no" }, numbered(o, t("Order ")), o.table_label ? " · " + t("Table {0}", o.table_label) : null),
      h("p", {},
        h("strong", { class: `badge s-${o.status.toLowerCase()}` }, status),
        " ",
        paymentBadge(o),
        ` ${o.date} ${o.time} · ${won(o.total_price)}`),
      h("p", { class: "lines" }, o.items.map(lineText).join(", ")),
      o.special_requests ? h("p", { class: "request" }, h("strong", {}, t("Your request: ")), o.special_requests) : null,
      eta || said ? h("p", { class: "eta" }, eta, eta && said ? " · " : null, said) : null,
      o.reject_reason ? h("p", {}, t("Reason: {0}", o.reject_reason)) : null,
      unpaid && o.payment_method === "CARD" && o.payment_due_at
        ? h("p", {}, t("Pay by {0}, or the order is cancelled.", clock(o.payment_due_at)))
        : null,
      unpaid && o.payment_method === "TRANSFER" && o.transfer ? transferBox(o) : null,
      actions.childElementCount ? actions : null,
    );
  }

  function drawOrders() {
    // A redraw (an event, say) keeps the focus where it was: on the same button or box.
    const active = ordersList.contains(document.activeElement) ? document.activeElement : null;
    const label = active?.getAttribute("aria-label");
    const again = active?.id ? `#${CSS.escape(active.id)}` : label ? `[aria-label="${CSS.escape(label)}"]` : null;
    const sorted = [...state.orders.values()].sort((a, b) => b.created_at.localeCompare(a.created_at));
    ordersList.replaceChildren(...sorted.map(orderItem));
    if (!sorted.length) ordersList.append(h("li", { class: "empty" }, t("No orders yet.")));
    if (again) ordersList.querySelector(again)?.focus();
  }

  const view = h(
    "div",
    { class: "customer" },
    h("section", { "aria-labelledby": "menu-title" },
      h("h2", { id: "menu-title" }, t("Menu")),
      categories,
      grid,
      sheet),
    cartJump,
    h("aside", { id: "cart", "aria-labelledby": "cart-title", class: "card", tabindex: -1 },
      h("h2", { id: "cart-title" }, t("Your order")),
      here,
      branchField,
      cartList,
      total,
      requestsField,
      payChoice,
      payerField,
      place),
    member
      ? h("section", { "aria-labelledby": "orders-title", class: "card" },
        h("h2", { id: "orders-title" }, t("My orders") + " ", liveState),
        ordersList)
      : null,
    member ? accountCard(member) : null,
  );

  // Back from the card checkout (?payment=…): confirm what it sent back, or say why not.
  let confirming = false;
  async function finishCheckout() {
    if (confirming) return;
    const back = api.paymentReturn();
    if (!back) return;
    const o = state.orders.get(back.order_id ?? back.orderId);
    const until = o?.payment_due_at ? t(" until {0}", clock(o.payment_due_at)) : "";
    if (back.outcome === "fail") {
      const why = back.code === "PAY_PROCESS_CANCELED"
        ? t("The card payment was cancelled on the payment page")
        : back.message ? t("The card payment did not go through (the card company says: “{0}”)", back.message) : t("The card payment did not go through");
      showError(t("{0}. Nothing was charged. Your order is kept: you can pay it with “Pay by card” under My orders{1}.", why, until), true);
      return;
    }
    confirming = true;
    say(t("Confirming your card payment…"));
    try {
      const paid = await api.confirmPayment(back);
      api.confirmed();
      const known = state.orders.get(paid.order_id);
      if (known) keep({ ...known, payment_status: paid.payment_status });
      else await act(null, async () => keep(await api.call("GET", `/order/${paid.order_id}/`)));
      drawOrders();
      say(t("Paid by card: {0}. Your order goes to the shop now.", won(paid.amount)));
    } catch (e) {
      // Not heard by the service (or the session ended first): tried again when the
      // connection (or the customer) is back. The confirm is safe to repeat.
      if ([0, 401, 502, 504].includes(e.status)) {
        showError(t("Your card payment is not confirmed yet: {0} It is tried again by itself.", e.message));
        return;
      }
      api.confirmed();
      if (e.status === 503) {
        say(t("The card company has not answered yet; the payment is being checked. Your order will show as paid here by itself."));
      } else {
        showError(payFailure(e), true);
        await act(null, loadOrders).catch(() => {});
      }
    } finally {
      confirming = false;
    }
  }

  drawCart();
  async function loadOrders() {
    if (!member) return;
    const mine = await api.call("GET", "/order/myorder/?limit=10");
    for (const o of mine) keep(o);
    drawOrders();
  }
  act(null, async () => {
    if (tableToken) {
      try {
        state.table = await api.call("GET", `/order/table/${encodeURIComponent(tableToken)}/`, { auth: false });
      } catch {
        sessionStorage.removeItem(TABLE_KEY);
        showError(t("This table's QR code is not in use any more: please ask the staff. You can still order for pickup."));
      }
    }
    if (state.table) {
      here.textContent = `${t("Table {0}", state.table.table_label)} · ${state.table.bran_nm}`;
      here.hidden = false;
      branchField.hidden = true;
    }
    const branches = await api.call("GET", "/order/branch/", { auth: false });
    branch.replaceChildren(...branches.map((b) => h("option", { value: b.bran_id }, b.bran_nm)));
    await loadMenu();
    restoreCart();
    await loadOrders();
  }).then(finishCheckout);

  if (!member) return view;
  const socket = api.live("", async (event) => {
    const known = state.orders.get(event.order_id);
    const change = event.type === "order.status_changed" || event.type === "order.payment_changed";
    if (known && change && event.status !== "REJECTED") {
      const next = merged(known, {
        ...known,
        status: event.status,
        payment_status: event.payment_status ?? known.payment_status,
        estimated_ready_at: event.estimated_ready_at ?? known.estimated_ready_at,
        accept_message: event.message ?? known.accept_message,
        order_number: event.order_number ?? known.order_number,
      });
      state.orders.set(next.order_id, next);
      drawOrders();
      if (next.payment_status !== known.payment_status) {
        say(next.payment_status === "REFUNDED"
          ? t("What you paid for your order ({0}) is refunded.", won(next.total_price))
          : next.payment_status === "PAID"
            ? t("Your payment of {0} went through: the shop has your order.", won(next.total_price))
            : t("Your order's payment: {0}.", paymentWords(next)));
      } else if (next.status !== known.status) {
        const no = next.order_number == null ? "" : ` ${next.order_number}`;
        const words = next.status === "ACCEPTED" && next.accept_message ? " " + t("The shop says: “{0}”", next.accept_message) : "";
        say(t("Your order{0} is now: {1}.", no, STATUS_WORDS[next.status] ?? next.status) + words);
      }
    } else if (!known || event.status === "REJECTED") {
      // Placed elsewhere (another tab), or rejected (the event has no reason): fetch it.
      await act(null, async () => {
        const o = await api.call("GET", `/order/${event.order_id}/`);
        keep(o);
        drawOrders();
        if (o.status === "REJECTED") say(t("Your order was rejected: {0}", o.reject_reason ?? ""));
      });
    }
  }, (s) => {
    liveState.textContent = s === "live" ? t("● live") : t("reconnecting…");
    // Whatever changed while the socket was down (a token expired, a replica restarted), and
    // a card payment whose confirm could not be sent.
    if (s === "live") act(null, loadOrders).then(finishCheckout);
  });
  teardown = () => socket.close();
  return view;
}

/** A failed checkout or confirm, in words. */
function payFailure(e) {
  const d = e.details ?? {};
  switch (e.status) {
    case 402:
      return d.provider_message
        ? t("The card company refused the payment (“{0}”). Nothing was charged; you can try again with “Pay by card”.", d.provider_message)
        : t("The card company refused the payment. Nothing was charged; you can try again with “Pay by card”.");
    case 409:
      if (d.state === "VOID") return t("This order was cancelled, so it cannot be paid. Nothing was charged.");
      if (d.state === "CONFIRMING") return t("A payment of this order is being confirmed; it will show here when it is done.");
      if (d.state && d.state !== "UNPAID") return t("This order is paid already.");
      return e.message;
    case 422:
      return t("The payment page sent back another amount than the order's, so nothing was charged. Please try paying again.");
    default:
      return e.message;
  }
}

// ---------------------------------------------------------------------------------------
// Staff: the board

const COLUMNS = [
  ["PENDING", t("New")],
  ["ACCEPTED", t("Being made")],
  ["READY", t("Ready for pickup")],
];

function staffView(member) {
  const columns = new Map(COLUMNS.map(([s]) => [s, h("ul", { class: "board-col", "aria-label": s })]));
  const liveState = h("span", { class: "live" }, t("connecting…"));

  // What is typed into a card (minutes, a reason, a message) outlives the redraws that every
  // event brings; the focus stays in its input.
  const drafts = new Map(); // order id → { minutes, reason, message }
  function drafted(o, key, input) {
    const d = drafts.get(o.order_id);
    if (d?.[key] !== undefined) input.value = d[key];
    input.dataset.draft = `${o.order_id}:${key}`;
    input.addEventListener("input", () => drafts.set(o.order_id, { ...drafts.get(o.order_id), [key]: input.value }));
    return input;
  }

  function card(o) {
    const lines = h("p", { class: "lines" }, o.items.map(lineText).join(", "));
    const no = numbered(o, "#");
    const head = h("p", {},
      no ? h("strong", { class: "order-no" }, no) : null,
      no ? " " : null,
      o.table_label ? h("strong", { class: "table-no" }, t("Table {0}", o.table_label) + " ") : null,
      h("strong", {}, `${o.time}`), ` · ${o.bran_id} · ${won(o.total_price)} `, paymentBadge(o));
    const request = o.special_requests
      ? h("p", { class: "request" }, h("strong", {}, t("Request: ")), o.special_requests)
      : null;
    const actions = h("div", { class: "actions" });
    const post = (action, body) => (ev) =>
      act(ev.currentTarget, async () => {
        await api.call("POST", `/order/${o.order_id}/${action}/`, { body });
        drafts.delete(o.order_id);
        await load();
      });
    if (o.status === "PENDING") {
      const minutes = drafted(o, "minutes", h("input", { type: "number", min: 1, max: 180, value: 20, class: "qty" }));
      const message = drafted(o, "message", h("input", { type: "text", maxlength: 200, placeholder: t("e.g. Extra pickles for you") }));
      const reason = drafted(o, "reason", h("input", { type: "text", maxlength: 200, placeholder: t("e.g. out of dough") }));
      const accept = (ev) => {
        const body = { estimated_time_minutes: Number(minutes.value) };
        const words = plain(message.value);
        if (words) body.message = words;
        return post("accept", body)(ev);
      };
      const messageField = field(t("Message to the customer (optional)"), message);
      messageField.classList.add("wide");
      actions.append(
        messageField,
        field(t("Minutes"), minutes),
        h("button", { type: "button", class: "primary", onclick: accept }, t("Accept")),
        field(t("Reason"), reason),
        h("button", { type: "button", onclick: (ev) => post("reject", { reason: plain(reason.value) || "unavailable" })(ev) }, t("Reject")),
      );
    } else if (o.status === "ACCEPTED") {
      if (o.estimated_ready_at) actions.append(h("p", {}, t("Due {0}", clock(o.estimated_ready_at))));
      actions.append(h("button", { type: "button", class: "primary", onclick: post("ready") }, t("Mark ready")));
    } else if (o.status === "READY") {
      actions.append(h("button", { type: "button", class: "primary", onclick: post("complete") }, t("Complete")));
    }
    return h(
      "li",
      { class: "order", dataset: { orderId: o.order_id, status: o.status, payment: o.payment_status ?? "AT_PICKUP" } },
      head, lines, request,
      o.accept_message && o.status !== "PENDING" ? h("p", { class: "said" }, t("Told the customer: "), h("span", { class: "quote" }, `“${o.accept_message}”`)) : null,
      actions,
    );
  }

  // Money the board settles by hand: deposits no order matched exactly, transfers to send
  // back for cancelled paid orders, and card refunds the provider refused. No events tell of these: they are
  // read with the board, after each action, and every 15 s while the page is visible.
  const deposits = h("ul", { class: "money-list", "aria-label": t("Deposits to match") });
  const refunds = h("ul", { class: "money-list", "aria-label": t("Refunds to do") });
  const details = new Map(); // order id → the order (who to send a refund to), read once

  function deposit(d) {
    const settle = (order_id, what) => (ev) =>
      act(ev.currentTarget, async () => {
        await api.call("POST", `/payment/deposits/${encodeURIComponent(d.tx_id)}/settle/`, { body: order_id ? { order_id } : {} });
        say(what);
        await Promise.all([loadMoney(), load()]);
      });
    const back = (ev) => {
      if (window.confirm(t("Mark {0} from {1} as sent back to them?", won(d.amount), d.payer_name))) {
        settle(null, t("The deposit of {0} from {1} is marked sent back.", won(d.amount), d.payer_name))(ev);
      }
    };
    return h(
      "li",
      { class: "money-item", dataset: { txId: d.tx_id } },
      h("p", {}, h("strong", {}, t("{0} from {1}", won(d.amount), d.payer_name)), ` · ${when(d.deposited_at)}`),
      h("p", { class: "lines" }, d.candidates.length
        ? t("No unpaid order of this name and amount. Unpaid transfer orders of this name or this amount:")
        : t("No unpaid order of this name or amount.")),
      h("div", { class: "actions" },
        ...d.candidates.map((c) =>
          h("button", {
            type: "button",
            class: c.amount === d.amount ? "primary" : null,
            onclick: settle(c.order_id, t("The deposit from {0} pays the order of {1}.", d.payer_name, when(c.created_at))),
          }, t("Pays the order of {0}", when(c.created_at)) + ` · ${c.bran_id} · ${won(c.amount)}`)),
        // Staff of one branch may not: the deposit may be meant for another branch's order.
        member.bran_id ? null : h("button", { type: "button", onclick: back }, t("Sent back to the payer"))),
    );
  }

  function refund(r) {
    const o = details.get(r.order_id);
    const to = r.payer_name ?? o?.transfer?.payer_name;
    // A card refund the provider refused is made at its dashboard.
    const card = r.method === "CARD";
    const done = (ev) => {
      const asked = card
        ? t("Have you refunded {0} at the card provider's dashboard?", won(r.amount))
        : to ? t("Have you sent {0} back to {1}?", won(r.amount), to) : t("Have you sent {0} back?", won(r.amount));
      if (!window.confirm(asked)) return;
      act(ev.currentTarget, async () => {
        await api.call("POST", `/payment/refunds/${r.order_id}/done/`, { body: {} });
        say(to ? t("The refund of {0} to {1} is done.", won(r.amount), to) : t("The refund of {0} is done.", won(r.amount)));
        await loadMoney();
      });
    };
    return h(
      "li",
      { class: "money-item", dataset: { orderId: r.order_id } },
      h("p", {}, h("strong", {}, card
        ? t("Refund {0} by card at the provider's dashboard (it refused: {1})", won(r.amount), r.failure?.code ?? "?")
        : to ? t("Send {0} back to {1}", won(r.amount), to) : t("Send {0} back", won(r.amount)))),
      h("p", { class: "lines" }, o
        ? t("For the cancelled order of {0} ({1})", `${o.date} ${o.time}`, o.items.map((i) => `${i.pizza_nm} ${i.size} × ${i.quantity}`).join(", "))
        : t("For the cancelled order {0}", r.order_id)),
      h("div", { class: "actions" },
        h("button", { type: "button", class: "primary", onclick: done }, card ? t("Done: refunded") : t("Done: sent back"))),
    );
  }

  let moneyLoads = 0;
  async function loadMoney() {
    const mine = ++moneyLoads;
    const [open, due] = await Promise.all([
      api.call("GET", "/payment/deposits/"),
      api.call("GET", "/payment/refunds/"),
    ]);
    // Whom to send each refund to: its order, read once.
    await Promise.all(due.filter((r) => !details.has(r.order_id)).map((r) =>
      api.call("GET", `/order/${r.order_id}/`).then((o) => details.set(r.order_id, o), () => {})));
    if (mine !== moneyLoads) return;
    deposits.replaceChildren(...open.map(deposit));
    if (!open.length) deposits.append(h("li", { class: "empty" }, t("No deposits to match.")));
    refunds.replaceChildren(...due.map(refund));
    if (!due.length) refunds.append(h("li", { class: "empty" }, t("No refunds to do.")));
  }

  // Events can come in bursts: only the newest load draws (an older one answering late
  // would put stale cards back).
  let loads = 0;
  async function load() {
    const mine = ++loads;
    const lists = await Promise.all(
      COLUMNS.map(([s]) => api.call("GET", `/order/?status=${s}&limit=100`)),
    );
    if (mine !== loads) return;
    const active = document.activeElement?.dataset?.draft;
    let at = null;
    try {
      at = [document.activeElement.selectionStart, document.activeElement.selectionEnd];
    } catch {}
    COLUMNS.forEach(([s], i) => {
      const col = columns.get(s);
      col.replaceChildren(...lists[i].map(card));
      if (!lists[i].length) col.append(h("li", { class: "empty" }, t("Nothing here.")));
    });
    // Drafts of orders no longer new are gone with them.
    const open = new Set(lists[0].map((o) => o.order_id));
    for (const id of drafts.keys()) if (!open.has(id)) drafts.delete(id);
    const again = active && columns.get("PENDING").querySelector(`[data-draft="${CSS.escape(active)}"]`);
    if (again) {
      again.focus();
      try {
        if (at?.[0] != null) again.setSelectionRange(...at);
      } catch {}
    }
  }

  const view = h(
    "div",
    { class: "staff" },
    h("section", { "aria-labelledby": "board-title" },
      h("h2", { id: "board-title" }, `${t("Orders")}${member.bran_id ? ` — ${member.bran_id}` : ""} `, liveState),
      h("div", { class: "board" },
        ...COLUMNS.map(([s, title]) =>
          h("div", { class: "column" }, h("h3", {}, title), columns.get(s))))),
    h("section", { "aria-labelledby": "money-title" },
      h("h2", { id: "money-title" }, t("Payments to settle")),
      h("div", { class: "money" },
        h("div", { class: "column" }, h("h3", {}, t("Deposits to match")), deposits),
        h("div", { class: "column" }, h("h3", {}, t("Refunds to do")), refunds))),
    storeConsole(member),
  );
  // Background refreshes show their own failure but leave an error the person is reading.
  // An order paid at last (AWAITING_PAYMENT → PENDING) comes as an event like any other.
  const quietly = () => load().catch(showError);
  const money = () => loadMoney().catch(showError);
  quietly();
  money();
  const socket = api.live("", () => {
    quietly();
    money(); // a cancelled paid transfer order is a refund to do
  }, (s) => {
    liveState.textContent = s === "live" ? t("● live") : t("reconnecting…");
    if (s === "live") quietly();
  });
  const visible = () => document.visibilityState === "visible";
  const timer = setInterval(() => visible() && money(), 15_000);
  const onVisible = () => visible() && money();
  document.addEventListener("visibilitychange", onVisible);
  teardown = () => {
    socket.close();
    clearInterval(timer);
    document.removeEventListener("visibilitychange", onVisible);
  };
  return view;
}

// ---------------------------------------------------------------------------------------
// Staff: the shop — what is sold out at a branch, pausing new orders, its tables' QR codes

const DAYS = [["MON", t("Monday")], ["TUE", t("Tuesday")], ["WED", t("Wednesday")], ["THU", t("Thursday")], ["FRI", t("Friday")], ["SAT", t("Saturday")], ["SUN", t("Sunday")]];
const CATEGORIES = ["Classic", "Chicken", "Supreme", "Veggie", "Side", "Drink"];
/** The sizes an item of a category comes in (the menu refuses others). */
const SIZES_OF = (categ) => (categ === "Side" ? ["REG"] : categ === "Drink" ? ["500ml", "1.25L"] : ["S", "M", "L", "XL", "XXL"]);

/** The week's opening hours of a branch, as a form: a day unticked is closed; "around the
 * clock" keeps no hours at all. */
function hoursForm(at, onSaved) {
  const always = h("input", { type: "checkbox", name: "around_the_clock" });
  const rows = DAYS.map(([day, name]) => ({
    day,
    open: h("input", { type: "checkbox", name: `open_${day}`, "aria-label": t("Open on {0}", name) }),
    opens: h("input", { type: "time", name: `opens_${day}`, value: "11:00", "aria-label": t("{0} opens at", name) }),
    closes: h("input", { type: "time", name: `closes_${day}`, value: "22:00", "aria-label": t("{0} closes at", name) }),
    name,
  }));
  const form = h("form", { class: "hours" },
    h("label", { class: "choice" }, always, h("span", {}, t("Open around the clock (no hours)"))),
    h("p", { class: "hint" }, t("A day not ticked is closed; a closing time before the opening runs past midnight.")),
    h("table", {},
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("Day")), h("th", { scope: "col" }, t("Opens")), h("th", { scope: "col" }, t("Closes")))),
      h("tbody", {}, ...rows.map((r) => h("tr", {},
        h("th", { scope: "row" }, h("label", { class: "choice" }, r.open, h("span", {}, r.name))),
        h("td", {}, r.opens), h("td", {}, r.closes))))),
    h("button", { type: "submit" }, t("Save hours")));
  const sync = () => rows.forEach((r) => {
    r.open.disabled = always.checked;
    r.opens.disabled = r.closes.disabled = always.checked || !r.open.checked;
  });
  form.addEventListener("change", sync);
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    act(form.querySelector("button[type=submit]"), async () => {
      const hours = always.checked ? [] : rows.filter((r) => r.open.checked).map((r) => ({ day: r.day, opens: r.opens.value, closes: r.closes.value }));
      await api.call("PUT", `/order/branch/${encodeURIComponent(at())}/hours/`, { body: { hours } });
      say(t("The opening hours are saved."));
      await onSaved();
    });
  });
  /** Shows the branch's week as saved. */
  form.show = (info) => {
    always.checked = info.hours.length === 0;
    for (const r of rows) {
      const saved = info.hours.find((x) => x.day === r.day);
      r.open.checked = Boolean(saved);
      if (saved) [r.opens.value, r.closes.value] = [saved.opens, saved.closes];
    }
    sync();
  };
  return form;
}

/** ADMIN: a new pizza — a new type with its first size (more sizes: the API). */
function newPizzaForm(onSaved) {
  const id = h("input", { name: "pizza_type_id", required: true, pattern: "[a-z0-9_]{2,40}", maxlength: 40 });
  const name = h("input", { name: "pizza_nm", required: true, maxlength: 100 });
  const categ = h("select", { name: "pizza_categ" }, ...CATEGORIES.map((c) => h("option", { value: c }, t(c))));
  const size = h("select", { name: "size" });
  const sizes = () => size.replaceChildren(...SIZES_OF(categ.value).map((z) => h("option", { value: z }, z)));
  categ.addEventListener("change", sizes);
  sizes();
  const price = h("input", { name: "price", type: "number", min: 1, max: 1_000_000, required: true });
  const form = h("form", { class: "new-pizza" },
    field(t("Id (a-z, 0-9, _)"), id), field(t("Name"), name), field(t("Category"), categ), field(t("Size"), size), field(t("Price (won)"), price),
    h("button", { type: "submit" }, t("Add the pizza")));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    act(form.querySelector("button"), async () => {
      const type = { pizza_type_id: id.value.trim(), pizza_nm: plain(name.value), pizza_categ: categ.value };
      await api.call("POST", "/menu/types/", { body: type });
      await api.call("POST", "/menu/pizzas/", { body: { pizza_type_id: type.pizza_type_id, size: size.value, price: Number(price.value) } });
      say(t("{0} ({1}) is on the menu at {2}.", type.pizza_nm, size.value, won(Number(price.value))));
      form.reset();
      sizes();
      await onSaved();
    });
  });
  return form;
}

/** ADMIN: what an item says about itself — its descriptions and allergens. */
const ALLERGENS = ["wheat", "milk", "egg", "soy", "pork", "beef", "chicken", "shrimp", "crab", "mackerel", "buckwheat",
  "peanut", "walnut", "pine_nut", "peach", "tomato", "sulfites", "squid", "shellfish", "fish"];
const allergenName = (a) => t(a === "pine_nut" ? "pine nuts" : a);
function aboutForm() {
  const item = h("select", { name: "about_item" });
  const ko = h("textarea", { name: "description_ko", rows: 2, maxlength: 500 });
  const en = h("textarea", { name: "description_en", rows: 2, maxlength: 500 });
  const boxes = ALLERGENS.map((a) => h("input", { type: "checkbox", name: "allergens", value: a }));
  let types = [];
  const show = () => {
    const ty = types.find((x) => x.pizza_type_id === item.value);
    if (!ty) return;
    ko.value = ty.description_ko;
    en.value = ty.description_en ?? "";
    boxes.forEach((b) => { b.checked = ty.allergens.includes(b.value); });
  };
  item.addEventListener("change", show);
  const form = h("form", { class: "about" },
    field(t("Item"), item),
    field(t("Description (Korean)"), ko),
    field(t("Description (English, optional)"), en),
    h("fieldset", { class: "option-group" }, h("legend", {}, t("Allergens")),
      ...ALLERGENS.map((a, i) => h("label", { class: "choice" }, boxes[i], h("span", {}, allergenName(a))))),
    h("button", { type: "submit" }, t("Save what it says")));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    act(form.querySelector("button[type=submit]"), async () => {
      const body = { description_ko: plain(ko.value, true), description_en: plain(en.value, true), allergens: boxes.filter((b) => b.checked).map((b) => b.value) };
      const sheet = await api.call("PATCH", `/menu/types/${encodeURIComponent(item.value)}/`, { body });
      const ty = types.find((x) => x.pizza_type_id === sheet.pizza_type_id);
      Object.assign(ty, { description_ko: sheet.description_ko, description_en: sheet.description_en, allergens: sheet.allergens });
      show();
      say(t("{0}: saved.", sheet.pizza_nm));
    });
  });
  form.load = async () => {
    types = await api.call("GET", "/menu/types/", { auth: false });
    const keep = item.value;
    item.replaceChildren(...types.map((ty) => h("option", { value: ty.pizza_type_id }, ty.pizza_nm)));
    if (keep) item.value = keep;
    show();
  };
  return form;
}

function storeConsole(member) {
  const admin = member.role === "ADMIN";
  const bound = member.role === "STAFF" ? member.bran_id : null;
  const branch = h("select", { name: "console-branch" });
  const pauseState = h("p", { class: "pause-state" });
  const pauseButton = h("button", { type: "button" });
  const soldOut = h("ul", { class: "sold-out", "aria-label": t("Pizzas at this branch") });
  const tableList = h("ul", { class: "tables", "aria-label": t("Tables") });
  const label = h("input", { name: "table_label", maxlength: 20, required: true });
  const sheet = h("button", { type: "button" }, t("Print the QR codes"));
  let info = null;
  const at = () => bound ?? branch.value;
  const hours = hoursForm(at, () => loadBranch());
  const about = aboutForm();

  async function loadBranch() {
    const all = await api.call("GET", "/order/branch/", { auth: false });
    if (!branch.options.length) {
      branch.replaceChildren(...all.filter((b) => !bound || b.bran_id === bound).map((b) => h("option", { value: b.bran_id }, b.bran_nm)));
    }
    info = all.find((b) => b.bran_id === at());
    hours.show(info);
    pauseState.textContent = info.open_now
      ? t("Taking orders.")
      : info.paused
        ? (info.opens_at ? t("New orders are paused until {0}.", clock(info.opens_at)) : t("New orders are paused."))
        : (info.opens_at ? t("Closed; opens {0}.", when(info.opens_at)) : t("Closed."));
    pauseButton.textContent = info.paused ? t("Take orders again") : t("Pause new orders");
  }

  // A toggle per pizza: pressed, it is sold out at this branch.
  async function loadMenu() {
    const menu = await api.call("GET", `/menu/?bran_id=${encodeURIComponent(at())}`, { auth: false });
    soldOut.replaceChildren(...menu.map((p) =>
      h("li", {},
        h("span", {}, `${p.pizza_nm} (${p.size})`),
        admin ? priceEditor(p) : null,
        h("button", {
          type: "button",
          "aria-pressed": String(!p.available),
          "aria-label": t("Sold out: {0} ({1})", p.pizza_nm, p.size),
          onclick: (ev) => {
            const button = ev.currentTarget;
            return act(button, async () => {
              const r = await api.call("PUT", `/menu/pizzas/${encodeURIComponent(p.pizza_id)}/branches/${encodeURIComponent(at())}/`, { body: { available: !p.available } });
              // The answer is the state now; a reload could reach a replica whose cache has
              // not heard the change yet.
              p.available = !r.sold_out_here;
              button.setAttribute("aria-pressed", String(r.sold_out_here));
              say(t(!r.sold_out_here ? "{0} ({1}) is on sale again at {2}." : "{0} ({1}) is sold out at {2}.", p.pizza_nm, p.size, info?.bran_nm ?? at()));
            });
          },
        }, t("Sold out")))));
  }

  /** ADMIN: the pizza's price, for every branch. */
  function priceEditor(p) {
    const price = h("input", { type: "number", min: 1, max: 1_000_000, value: p.price, class: "qty price", "aria-label": t("Price: {0} ({1})", p.pizza_nm, p.size) });
    return h("span", { class: "price-edit" }, price,
      h("button", {
        type: "button",
        "aria-label": t("Save price: {0} ({1})", p.pizza_nm, p.size),
        onclick: (ev) => act(ev.currentTarget, async () => {
          const r = await api.call("PATCH", `/menu/pizzas/${encodeURIComponent(p.pizza_id)}/`, { body: { price: Number(price.value) } });
          say(t("{0} ({1}) costs {2} now.", p.pizza_nm, p.size, won(r.price)));
          await loadMenu();
        }),
      }, t("Save")));
  }

  // ADMIN: every option of the shop, its price and whether it can be had (every branch).
  const optionList = h("ul", { class: "sold-out", "aria-label": t("Options") });
  async function loadOptions() {
    if (!admin) return;
    const groups = await api.call("GET", "/menu/options/", { auth: false });
    optionList.replaceChildren(...groups.flatMap((g) => g.options.map((o) => {
      const what = `${g.name_ko}: ${o.name_ko}`;
      const delta = h("input", { type: "number", min: 0, max: 100_000, value: o.price_delta, class: "qty price", "aria-label": t("Price added: {0}", what) });
      return h("li", {},
        h("span", {}, what),
        h("span", { class: "price-edit" }, delta,
          h("button", {
            type: "button",
            "aria-label": t("Save price added: {0}", what),
            onclick: (ev) => act(ev.currentTarget, async () => {
              const r = await api.call("PATCH", `/menu/options/${encodeURIComponent(o.option_id)}/`, { body: { price_delta: Number(delta.value) } });
              o.price_delta = r.price_delta;
              say(t("{0} adds {1} now.", what, won(r.price_delta)));
            }),
          }, t("Save"))),
        h("button", {
          type: "button",
          "aria-pressed": String(!o.available),
          "aria-label": t("Sold out: {0}", what),
          onclick: (ev) => {
            const button = ev.currentTarget;
            return act(button, async () => {
              const r = await api.call("PATCH", `/menu/options/${encodeURIComponent(o.option_id)}/`, { body: { available: !o.available } });
              o.available = r.available;
              button.setAttribute("aria-pressed", String(!r.available));
              say(t(r.available ? "{0} can be had again." : "{0} is sold out.", what));
            });
          },
        }, t("Sold out")));
    })));
  }

  async function loadTables() {
    const tables = await api.call("GET", `/order/branch/${encodeURIComponent(at())}/table/`);
    tableList.replaceChildren(...tables.map((tb) =>
      h("li", { dataset: { tableId: tb.table_id } },
        h("span", {}, t("Table {0}", tb.label)),
        h("button", {
          type: "button",
          "aria-label": t("Retire table {0}", tb.label),
          onclick: (ev) => {
            if (!window.confirm(t("Retire table {0}? Its QR code will order nothing any more.", tb.label))) return;
            act(ev.currentTarget, async () => {
              await api.call("DELETE", `/order/branch/${encodeURIComponent(at())}/table/${tb.table_id}/`);
              say(t("Table {0} is retired.", tb.label));
              await loadTables();
            });
          },
        }, t("Retire")))));
    if (!tables.length) tableList.append(h("li", { class: "empty" }, t("No tables yet.")));
  }

  pauseButton.addEventListener("click", (ev) => act(ev.currentTarget, async () => {
    await api.call("PUT", `/order/branch/${encodeURIComponent(at())}/pause/`, { body: { paused: !info?.paused } });
    await loadBranch();
    say(pauseState.textContent);
  }));
  const addForm = h("form", { class: "add-table" }, field(t("New table's label"), label), h("button", { type: "submit" }, t("Add table")));
  addForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    act(addForm.querySelector("button"), async () => {
      const tb = await api.call("POST", `/order/branch/${encodeURIComponent(at())}/table/`, { body: { label: plain(label.value) } });
      label.value = "";
      say(t("Table {0} is added.", tb.label));
      await loadTables();
    });
  });
  // The sheet is the API's own printable page; it needs the token, so it is fetched and its
  // codes and labels are shown in a new window styled by this page's own style.css (the
  // page's CSP, which the window inherits, allows no inline style).
  sheet.addEventListener("click", (ev) => act(ev.currentTarget, async () => {
    const html = await api.text(`/order/branch/${encodeURIComponent(at())}/table/sheet/`);
    // Its own <style> is for opening it alone; here style.css does that job.
    const page = new DOMParser().parseFromString(html.replace(/<style>[\s\S]*?<\/style>/, ""), "text/html");
    const w = window.open("", "_blank");
    if (!w) throw new Error(t("The browser blocked the new window: allow pop-ups for this page to print."));
    w.document.write(`<!doctype html><html lang="${document.documentElement.lang}"><head><meta charset="utf-8">`
      + `<link rel="stylesheet" href="${new URL("style.css", location.href)}"></head><body class="qr-sheet"></body></html>`);
    w.document.close();
    w.document.title = page.title;
    w.document.body.replaceChildren(...[...page.body.childNodes].map((n) => w.document.importNode(n, true)));
  }));
  // `data-loaded` says which branch the console shows, once all of it is in.
  const show = async () => {
    view.dataset.loaded = "";
    await loadBranch();
    await Promise.all([loadMenu(), loadTables(), loadOptions(), admin ? about.load() : null]);
    view.dataset.loaded = at();
  };
  const view = h("section", { "aria-labelledby": "shop-title", class: "console" },
    h("h2", { id: "shop-title" }, t("The shop")),
    bound ? null : field(t("Branch"), branch),
    h("div", { class: "console-grid" },
      h("div", { class: "card" }, h("h3", {}, t("New orders")), pauseState, pauseButton, h("h3", {}, t("Opening hours")), hours),
      h("div", { class: "card" }, h("h3", {}, admin ? t("Prices and sold out here") : t("Sold out here")), soldOut,
        admin ? h("h3", {}, t("A new pizza")) : null, admin ? newPizzaForm(() => loadMenu()) : null),
      admin ? h("div", { class: "card" }, h("h3", {}, t("Options (every branch)")), optionList) : null,
      admin ? h("div", { class: "card" }, h("h3", {}, t("What each item says")), about) : null,
      h("div", { class: "card" }, h("h3", {}, t("Tables")), tableList, addForm, sheet)));
  branch.addEventListener("change", () => act(null, show));
  act(null, show);
  return view;
}

// ---------------------------------------------------------------------------------------

function route(session) {
  const who = document.getElementById("who");
  const loginOpen = document.getElementById("login-open");
  loginOpen.hidden = Boolean(session);
  if (!session) {
    who.hidden = true;
    render(() => customerView(null));
    return;
  }
  who.hidden = false;
  const m = session.member;
  document.getElementById("who-name").textContent = `${m.member_nm} (${t(m.role.toLowerCase())})`;
  render(m.role === "CUSTOMER" ? () => customerView(m) : () => staffView(m));
  main.focus();
}

let shown = undefined;
api.onSession((s) => {
  // A refresh keeps the same person on the same view; only log in/out redraws.
  const key = s ? `${s.member.member_id}` : null;
  if (key !== shown) {
    shown = key;
    route(s);
  }
});
document.getElementById("login-open").addEventListener("click", () => render(() => authView()));
document.getElementById("logout").addEventListener("click", (ev) =>
  act(ev.currentTarget, async () => {
    await api.logout();
    say(t("Logged out."));
  }),
);
// Back from a provider: the one-time code for a session, a link made, or why not.
const PROVIDERS = { google: "Google", kakao: "Kakao", naver: "Naver", dev: "dev" };
const back = api.socialReturn();
if (back?.linked) say(t("{0} is linked to your account.", t(PROVIDERS[back.linked] ?? back.linked)));
if (back?.code) {
  act(null, async () => {
    await api.socialExchange(back.code);
    say(t("Logged in."));
  });
}
api.resume().then(() => {
  if (shown === undefined) {
    shown = null;
    route(null);
  }
  if (back?.error) showError(back.error, true);
});
