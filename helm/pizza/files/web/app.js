// The page: log in or register, then the customer's menu, cart and orders, or the staff
// board — by the member's role. Plain DOM; every change from the server arrives over the
// live status socket and is drawn without a reload.

import * as api from "./api.js";

const main = document.getElementById("main");
const alertBox = document.getElementById("alert");
const notice = document.getElementById("notice");
const won = (n) => `${n.toLocaleString("ko-KR")}원`;
// The shops are in Seoul: times are theirs, whatever the device's zone (the API's date and
// time fields are too).
const clock = (iso) =>
  new Date(iso).toLocaleTimeString("ko-KR", { timeZone: "Asia/Seoul", hour: "2-digit", minute: "2-digit" });
const STATUS_WORDS = {
  PENDING: "Waiting for the shop",
  ACCEPTED: "Being made",
  READY: "Ready for pickup",
  COMPLETED: "Picked up",
  REJECTED: "Rejected",
  CANCELLED: "Cancelled",
};

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

function showError(e) {
  alertBox.textContent = e?.message ?? String(e);
  alertBox.hidden = false;
}

function clearError() {
  alertBox.hidden = true;
  alertBox.textContent = "";
}

function say(text) {
  notice.textContent = text;
}

/** Runs `f`, showing its failure in words; the button is busy meanwhile. */
async function act(button, f) {
  clearError();
  if (button) button.disabled = true;
  try {
    return await f();
  } catch (e) {
    showError(e);
  } finally {
    if (button) button.disabled = false;
  }
}

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

function authView() {
  const id = h("input", { name: "member_id", autocomplete: "username", required: true, minlength: 3, maxlength: 20 });
  const pwd = h("input", { name: "password", type: "password", autocomplete: "current-password", required: true });
  const loginForm = h(
    "form",
    { class: "card", "aria-labelledby": "login-title" },
    h("h2", { id: "login-title" }, "Log in"),
    field("Member ID", id),
    field("Password", pwd),
    h("button", { type: "submit" }, "Log in"),
  );
  loginForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    act(loginForm.querySelector("button"), async () => {
      await api.login(id.value.trim(), pwd.value);
      say("Logged in.");
    });
  });

  const rid = h("input", { name: "new_member_id", autocomplete: "username", required: true, minlength: 3, maxlength: 20, pattern: "[A-Za-z0-9_]+" });
  const rname = h("input", { name: "member_nm", autocomplete: "name", required: true, maxlength: 50 });
  const rpwd = h("input", { name: "new_password", type: "password", autocomplete: "new-password", required: true, minlength: 8 });
  const regForm = h(
    "form",
    { class: "card", "aria-labelledby": "reg-title" },
    h("h2", { id: "reg-title" }, "New here? Register"),
    field("Member ID (letters, digits, _)", rid),
    field("Your name", rname),
    field("Password (8 characters or more)", rpwd),
    h("button", { type: "submit" }, "Register and log in"),
  );
  regForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    act(regForm.querySelector("button"), async () => {
      await api.register(rid.value.trim(), rname.value.trim(), rpwd.value);
      await api.login(rid.value.trim(), rpwd.value);
      say("Welcome! You are registered and logged in.");
    });
  });
  return h("div", { class: "auth" }, loginForm, regForm);
}

// ---------------------------------------------------------------------------------------
// Customer: menu, cart, my orders

function customerView() {
  const state = { menu: [], category: null, cart: new Map(), key: null, orders: new Map() };
  const branch = h("select", { name: "branch", required: true });
  const categories = h("div", { class: "tabs", role: "group", "aria-label": "Categories" });
  const grid = h("ul", { class: "menu", "aria-label": "Pizzas" });
  const cartList = h("ul", { class: "cart-lines", "aria-label": "Cart" });
  const total = h("p", { class: "total" });
  const place = h("button", { type: "button", class: "primary" }, "Place order");
  const ordersList = h("ul", { class: "orders", "aria-label": "My orders" });
  // On a phone the cart is below the menu: a bar at the bottom of the screen leads to it.
  const cartJump = h("a", { href: "#cart", class: "cart-jump", hidden: true });
  const liveState = h("span", { class: "live" }, "connecting…");

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
        }, c),
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
          h(
            "div",
            { class: "sizes" },
            ...sizes.map((p) =>
              h("button", {
                type: "button",
                disabled: !p.available,
                "aria-label": `Add ${first.pizza_nm}, size ${p.size}, ${won(p.price)}${p.available ? "" : " (sold out)"}`,
                onclick: () => add(p),
              }, `${p.size} · ${won(p.price)}`),
            ),
          ),
        );
      }),
    );
  }

  function add(p) {
    const line = state.cart.get(p.pizza_id) ?? { pizza: p, quantity: 0 };
    line.quantity = Math.min(100, line.quantity + 1);
    state.cart.set(p.pizza_id, line);
    state.key = null; // another cart is another order
    drawCart();
    say(`Added ${p.pizza_nm} (${p.size}). ${state.cart.size} in the cart.`);
  }

  function drawCart() {
    let sum = 0;
    cartList.replaceChildren(
      ...[...state.cart.values()].map((l) => {
        sum += l.pizza.price * l.quantity;
        const qty = h("input", { type: "number", min: 1, max: 100, value: l.quantity, class: "qty" });
        qty.addEventListener("change", () => {
          l.quantity = Math.max(1, Math.min(100, Number(qty.value) || 1));
          state.key = null;
          drawCart();
        });
        return h(
          "li",
          {},
          h("span", {}, `${l.pizza.pizza_nm} (${l.pizza.size})`),
          field("Quantity", qty),
          h("button", {
            type: "button",
            "aria-label": `Remove ${l.pizza.pizza_nm} (${l.pizza.size})`,
            onclick: () => {
              state.cart.delete(l.pizza.pizza_id);
              state.key = null;
              drawCart();
            },
          }, "Remove"),
        );
      }),
    );
    if (!state.cart.size) cartList.append(h("li", { class: "empty" }, "Your cart is empty."));
    total.textContent = `Total ${won(sum)}`;
    place.disabled = state.cart.size === 0;
    const count = [...state.cart.values()].reduce((n, l) => n + l.quantity, 0);
    cartJump.textContent = `Your order: ${count} · ${won(sum)} — review and order`;
    cartJump.hidden = state.cart.size === 0;
  }

  // Another branch is another order, too.
  branch.addEventListener("change", () => {
    state.key = null;
  });

  place.addEventListener("click", async () => {
    await act(place, async () => {
      // One key per cart: a double click or a retry after an error is the same order.
      state.key ??= api.newKey();
      const order = await api.call("POST", "/order/", {
        headers: { "idempotency-key": state.key },
        body: {
          bran_id: branch.value,
          items: [...state.cart.values()].map((l) => ({ pizza_id: l.pizza.pizza_id, quantity: l.quantity })),
        },
      });
      state.cart.clear();
      state.key = null;
      drawCart();
      state.orders.set(order.order_id, order);
      drawOrders();
      say(`Order placed: ${won(order.total_price)}. We will show its status here as it changes.`);
    });
    // act() gives the button back; an empty cart takes it away again.
    place.disabled = state.cart.size === 0;
  });

  function drawOrders() {
    const sorted = [...state.orders.values()].sort((a, b) => b.created_at.localeCompare(a.created_at));
    ordersList.replaceChildren(
      ...sorted.map((o) =>
        h(
          "li",
          { class: "order", dataset: { orderId: o.order_id, status: o.status } },
          h("p", {},
            h("strong", { class: `badge s-${o.status.toLowerCase()}` }, STATUS_WORDS[o.status] ?? o.status),
            ` ${o.date} ${o.time} · ${won(o.total_price)}`),
          h("p", { class: "lines" }, o.items.map((i) => `${i.pizza_nm} (${i.size}) × ${i.quantity}`).join(", ")),
          o.estimated_ready_at && o.status === "ACCEPTED"
            ? h("p", {}, `Ready at about ${clock(o.estimated_ready_at)}`)
            : null,
          o.reject_reason ? h("p", {}, `Reason: ${o.reject_reason}`) : null,
        ),
      ),
    );
    if (!sorted.length) ordersList.append(h("li", { class: "empty" }, "No orders yet."));
  }

  const view = h(
    "div",
    { class: "customer" },
    h("section", { "aria-labelledby": "menu-title" },
      h("h2", { id: "menu-title" }, "Menu"),
      categories,
      grid),
    cartJump,
    h("aside", { id: "cart", "aria-labelledby": "cart-title", class: "card", tabindex: -1 },
      h("h2", { id: "cart-title" }, "Your order"),
      field("Branch", branch),
      cartList,
      total,
      place),
    h("section", { "aria-labelledby": "orders-title", class: "card" },
      h("h2", { id: "orders-title" }, "My orders ", liveState),
      ordersList),
  );

  drawCart();
  async function loadOrders() {
    const mine = await api.call("GET", "/order/myorder/?limit=10");
    for (const o of mine) state.orders.set(o.order_id, o);
    drawOrders();
  }
  act(null, async () => {
    const [menu, branches] = await Promise.all([
      api.call("GET", "/menu/", { auth: false }),
      api.call("GET", "/order/branch/", { auth: false }),
    ]);
    state.menu = menu;
    branch.replaceChildren(...branches.map((b) => h("option", { value: b.bran_id }, b.bran_nm)));
    drawCategories();
    drawMenu();
    await loadOrders();
  });

  const socket = api.live("", async (event) => {
    const known = state.orders.get(event.order_id);
    if (known && event.type === "order.status_changed" && event.status !== "REJECTED") {
      known.status = event.status;
      if (event.estimated_ready_at) known.estimated_ready_at = event.estimated_ready_at;
      drawOrders();
      say(`Your order is now: ${STATUS_WORDS[event.status] ?? event.status}.`);
    } else if (!known || event.status === "REJECTED") {
      // Placed elsewhere (another tab), or rejected (the event has no reason): fetch it.
      await act(null, async () => {
        const o = await api.call("GET", `/order/${event.order_id}/`);
        state.orders.set(o.order_id, o);
        drawOrders();
        if (o.status === "REJECTED") say(`Your order was rejected: ${o.reject_reason ?? ""}`);
      });
    }
  }, (s) => {
    liveState.textContent = s === "live" ? "● live" : "reconnecting…";
    // Whatever changed while the socket was down (a token expired, a replica restarted).
    if (s === "live") act(null, loadOrders);
  });
  teardown = () => socket.close();
  return view;
}

// ---------------------------------------------------------------------------------------
// Staff: the board

const COLUMNS = [
  ["PENDING", "New"],
  ["ACCEPTED", "Being made"],
  ["READY", "Ready for pickup"],
];

function staffView(member) {
  const columns = new Map(COLUMNS.map(([s]) => [s, h("ul", { class: "board-col", "aria-label": s })]));
  const liveState = h("span", { class: "live" }, "connecting…");

  function card(o) {
    const lines = h("p", { class: "lines" }, o.items.map((i) => `${i.pizza_nm} (${i.size}) × ${i.quantity}`).join(", "));
    const head = h("p", {}, h("strong", {}, `${o.time}`), ` · ${o.bran_id} · ${won(o.total_price)}`);
    const actions = h("div", { class: "actions" });
    const post = (action, body) => (ev) =>
      act(ev.currentTarget, async () => {
        await api.call("POST", `/order/${o.order_id}/${action}/`, { body });
        await load();
      });
    if (o.status === "PENDING") {
      const minutes = h("input", { type: "number", min: 1, max: 180, value: 20, class: "qty" });
      const reason = h("input", { type: "text", maxlength: 200, placeholder: "e.g. out of dough" });
      actions.append(
        field("Minutes", minutes),
        h("button", { type: "button", class: "primary", onclick: (ev) => post("accept", { estimated_time_minutes: Number(minutes.value) })(ev) }, "Accept"),
        field("Reason", reason),
        h("button", { type: "button", onclick: (ev) => post("reject", { reason: reason.value.trim() || "unavailable" })(ev) }, "Reject"),
      );
    } else if (o.status === "ACCEPTED") {
      if (o.estimated_ready_at) actions.append(h("p", {}, `Due ${clock(o.estimated_ready_at)}`));
      actions.append(h("button", { type: "button", class: "primary", onclick: post("ready") }, "Mark ready"));
    } else if (o.status === "READY") {
      actions.append(h("button", { type: "button", class: "primary", onclick: post("complete") }, "Complete"));
    }
    return h("li", { class: "order", dataset: { orderId: o.order_id, status: o.status } }, head, lines, actions);
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
    COLUMNS.forEach(([s], i) => {
      const col = columns.get(s);
      col.replaceChildren(...lists[i].map(card));
      if (!lists[i].length) col.append(h("li", { class: "empty" }, "Nothing here."));
    });
  }

  const view = h(
    "section",
    { class: "staff", "aria-labelledby": "board-title" },
    h("h2", { id: "board-title" }, `Orders${member.bran_id ? ` — ${member.bran_id}` : ""} `, liveState),
    h("div", { class: "board" },
      ...COLUMNS.map(([s, title]) =>
        h("div", { class: "column" }, h("h3", {}, title), columns.get(s)))),
  );
  // Background refreshes show their own failure but leave an error the person is reading.
  const quietly = () => load().catch(showError);
  quietly();
  const socket = api.live("", quietly, (s) => {
    liveState.textContent = s === "live" ? "● live" : "reconnecting…";
    if (s === "live") quietly();
  });
  teardown = () => socket.close();
  return view;
}

// ---------------------------------------------------------------------------------------

function route(session) {
  const who = document.getElementById("who");
  if (!session) {
    who.hidden = true;
    render(authView);
    return;
  }
  who.hidden = false;
  const m = session.member;
  document.getElementById("who-name").textContent = `${m.member_nm} (${m.role.toLowerCase()})`;
  render(m.role === "CUSTOMER" ? customerView : () => staffView(m));
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
document.getElementById("logout").addEventListener("click", (ev) =>
  act(ev.currentTarget, async () => {
    await api.logout();
    say("Logged out.");
  }),
);
api.resume().then(() => {
  if (shown === undefined) {
    shown = null;
    route(null);
  }
});
