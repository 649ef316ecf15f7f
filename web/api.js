// The platform's HTTP API as the page uses it: the session (tokens kept in sessionStorage,
// refreshed silently a minute before they expire), requests with the token, and errors turned
// into sentences for people.

// Same origin by default (the ingress serves this page); `?api=http://host:port` points the page
// at an API on another origin, which must allow this one in CORS_ALLOWED_ORIGINS. Back from the
// card checkout (`?payment=…`) the address has lost `?api=`: the checkout kept it.
import { t } from "./i18n.js";

const CHECKOUT = "pizza.checkout";
const query = new URLSearchParams(location.search);
const started = JSON.parse(sessionStorage.getItem(CHECKOUT) ?? "null");
export const API = (query.get("api") ?? (query.has("payment") ? started?.api : null) ?? "").replace(/\/+$/, "");

const KEY = "pizza.session";
let session = JSON.parse(sessionStorage.getItem(KEY) ?? "null");
let refreshTimer = null;
const listeners = new Set();

/** Called with the session (or null) whenever it changes. */
export function onSession(f) {
  listeners.add(f);
}

export function current() {
  return session;
}

// Bumped by every log in and log out: a refresh that was under way for an older session
// must not bring that session back.
let generation = 0;

function keep(next) {
  session = next;
  if (next) sessionStorage.setItem(KEY, JSON.stringify(next));
  else sessionStorage.removeItem(KEY);
  clearTimeout(refreshTimer);
  if (next) {
    // A minute before expiry (a quarter of the lifetime for short-lived tokens), swap the
    // pair for a new one.
    const lead = Math.min(60_000, next.lifetime / 4);
    const wait = Math.max(1_000, next.expires_at - Date.now() - lead);
    refreshTimer = setTimeout(() => refresh().catch(() => {}), wait);
  }
  for (const f of listeners) f(next);
}

function fromLogin(body) {
  return {
    token: body.token,
    refresh_token: body.refresh_token,
    expires_at: Date.now() + body.expires_in * 1000,
    lifetime: body.expires_in * 1000,
    member: body.member,
  };
}

/** An error the page can show as it is. */
export class ApiError extends Error {
  constructor(message, status, code, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

// What a person should read for each kind of failure; the service's own message is kept
// where it says something specific (which pizza, which field).
function sentence(status, envelope, retryAfter) {
  const e = envelope?.error ?? {};
  switch (status) {
    case 401:
      return e.code === "UNAUTHORIZED" && /password|credential/i.test(e.message ?? "")
        ? t("That member ID and password do not match.")
        : t("Your session has ended. Please log in again.");
    case 403:
      return t("You are not allowed to do that.");
    case 404:
      return t("That could not be found. It may have been removed.");
    case 409:
      return t("That changed in the meantime: {0}.", e.message ?? t("please reload and try again"));
    case 413:
      return t("That is too large to send.");
    case 429:
      return t("Too many attempts. Please wait {0} seconds and try again.", retryAfter ?? t("a few"));
    case 502:
    case 503:
    case 504:
      return t("The service is unavailable right now. Please try again in a moment.");
    default:
      if (status >= 500) return t("Something went wrong on our side. Please try again.");
      if (e.code === "STORE_CLOSED") {
        const at = e.details?.opens_at;
        return at
          ? t("The shop is closed now; it takes orders again at {0}.", new Date(at).toLocaleString("ko-KR", {
            timeZone: "Asia/Seoul", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23",
          }))
          : t("The shop is not taking orders now.");
      }
      return e.message ? capitalise(e.message) + "." : t("The request was refused ({0}).", status);
  }
}

function capitalise(s) {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/**
 * `fetch` on the API with the session's token; the JSON body, or an ApiError in words.
 * A 401 with a session is retried once after a refresh.
 */
export async function call(method, path, { body, headers = {}, auth = true, retried = false } = {}) {
  const h = { ...headers };
  if (body !== undefined) h["content-type"] = "application/json";
  if (auth && session) h.authorization = `Bearer ${session.token}`;
  let res;
  try {
    res = await fetch(API + path, {
      method,
      headers: h,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(t("Cannot reach the service. Check your connection and try again."), 0, "NETWORK");
  }
  if (res.status === 401 && auth && session && !retried && path !== "/login/refresh/") {
    if (await refresh().then(() => true, () => false)) {
      return call(method, path, { body, headers, auth, retried: true });
    }
  }
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    // A proxy's HTML error page, say: the status alone says what happened.
  }
  if (!res.ok) {
    if (res.status === 401 && auth && session) {
      generation += 1;
      keep(null);
    }
    throw new ApiError(
      sentence(res.status, data, res.headers.get("retry-after")),
      res.status,
      data?.error?.code,
      data?.error?.details,
    );
  }
  return data;
}

/** A page the API serves (not JSON), fetched with the session's token. */
export async function text(path) {
  const res = await fetch(API + path, { headers: session ? { authorization: `Bearer ${session.token}` } : {} })
    .catch(() => {
      throw new ApiError(t("Cannot reach the service. Check your connection and try again."), 0, "NETWORK");
    });
  if (!res.ok) throw new ApiError(sentence(res.status, null, null), res.status);
  return res.text();
}

export async function register(member_id, member_nm, member_pwd) {
  await call("POST", "/login/register/", { body: { member_id, member_nm, member_pwd }, auth: false });
}

// The device token a login hands out, kept per member id (in any case) across visits: while
// someone guesses this member's password from many addresses, logins that present it still
// get through. It opens nothing by itself; the password is still checked.
const DEVICES = "pizza.devices";
const devices = () => JSON.parse(localStorage.getItem(DEVICES) ?? "{}");

export async function login(member_id, member_pwd) {
  const id = member_id.toLowerCase();
  const device_token = devices()[id];
  const request = device_token ? { member_id, member_pwd, device_token } : { member_id, member_pwd };
  const body = await call("POST", "/login/", { body: request, auth: false });
  if (body.device_token) localStorage.setItem(DEVICES, JSON.stringify({ ...devices(), [id]: body.device_token }));
  generation += 1;
  keep(fromLogin(body));
}

// A duplicated tab starts with a copy of this tab's session, refresh token included, and the
// refresh token is single-use (presenting it twice revokes the session). So tabs take turns
// (a Web Lock) and hand the new pair to each other (a BroadcastChannel): the first swaps it,
// the others adopt the result instead of presenting the old token again. A tab that had to
// wait for its turn gives the message a moment to arrive (it is not ordered with the lock).
const tabs = "BroadcastChannel" in window ? new BroadcastChannel("pizza.session") : null;
const swapped = new Set(); // refresh tokens another tab has swapped
let heard = () => {};
tabs?.addEventListener("message", (m) => {
  const { rotated, next } = m.data ?? {};
  if (!rotated) return;
  swapped.add(rotated);
  if (session && session.refresh_token === rotated) keep(next);
  heard();
});

async function turn(presented, f) {
  if (!navigator.locks) return f();
  const first = await navigator.locks.request("pizza.refresh", { ifAvailable: true }, async (lock) =>
    lock ? { ran: true, value: await f() } : { ran: false },
  );
  if (first.ran) return first.value;
  return navigator.locks.request("pizza.refresh", async () => {
    if (!swapped.has(presented)) {
      await new Promise((ok) => {
        heard = ok;
        setTimeout(ok, 1_500);
      });
    }
    return f();
  });
}

let refreshing = null;
/**
 * Swaps the refresh token for a new pair (once at a time, across tabs). Only a refused
 * refresh token ends the session; when the service cannot be reached, the session stays and
 * the swap is tried again shortly (the access token may still be good).
 */
export function refresh() {
  if (!session) return Promise.reject(new Error("no session"));
  const mine = generation;
  const presented = session.refresh_token;
  refreshing ??= turn(presented, async () => {
    // Another tab swapped this very pair while we waited: its result was adopted already.
    if (!session || session.refresh_token !== presented) return;
    const prior = session;
    const body = await call("POST", "/login/refresh/", {
      body: { refresh_token: presented },
      auth: false,
    });
    if (generation !== mine) return;
    const next = fromLogin({ ...body, member: body.member ?? prior.member });
    keep(next);
    tabs?.postMessage({ rotated: presented, next });
  })
    .catch((e) => {
      if (generation !== mine) throw e;
      if (e.status === 400 || e.status === 401) {
        generation += 1;
        keep(null);
      } else if (session) {
        clearTimeout(refreshTimer);
        refreshTimer = setTimeout(() => refresh().catch(() => {}), 5_000);
      }
      throw e;
    })
    .finally(() => {
      refreshing = null;
    });
  return refreshing;
}

// Social login (Kakao, Naver, Google; "dev" locally). The browser goes to the provider and
// comes back to this page with a one-time code in the fragment (#oauth_code=…), which is
// exchanged for the usual login answer: no token is ever in a URL.

/** The providers that are on: [{id, name}]; none when login cannot say. */
export async function providers() {
  try {
    return (await call("GET", "/login/oauth/providers/", { auth: false })).providers;
  } catch {
    return [];
  }
}

/** Leaves the page for the provider's login (the cart is kept in this tab). */
export function socialLogin(provider) {
  location.assign(`${API}/login/oauth/${encodeURIComponent(provider)}/start`);
}

export async function socialExchange(code) {
  const body = await call("POST", "/login/oauth/exchange/", { body: { code }, auth: false });
  generation += 1;
  keep(fromLogin(body));
}

/** Leaves the page to link a provider account to the member logged in. */
export async function link(provider) {
  // The answer sets the cookie that binds the link to this browser: same origin as the API.
  const { authorize_url } = await call("POST", `/login/oauth/${encodeURIComponent(provider)}/link/`);
  location.assign(authorize_url);
}

export async function unlink(provider) {
  await call("DELETE", `/login/oauth/${encodeURIComponent(provider)}/`);
}

/** What the page was sent back with from a provider, the fragment then cleared. */
export function socialReturn() {
  const hash = new URLSearchParams(location.hash.slice(1));
  const back = {
    code: hash.get("oauth_code"),
    linked: hash.get("oauth_linked"),
    error: hash.get("oauth_error"),
  };
  if (back.code || back.linked || back.error) {
    history.replaceState(null, "", location.pathname + location.search);
    return back;
  }
  return null;
}

export async function logout() {
  try {
    await call("POST", "/login/logout/");
  } finally {
    generation += 1;
    keep(null);
  }
}

/** Re-arms the refresh timer for a session kept from before a reload. */
export async function resume() {
  if (session && session.expires_at - Date.now() < 10_000) {
    try {
      await refresh();
      return;
    } catch {
      // Refused: the session is gone. Unreachable: it stays, and is tried again later.
    }
  }
  if (session) keep(session);
}

/** A key for one order attempt: the same key for every retry or double click of it. */
export function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

/**
 * The live status socket: authenticates with the current token, calls `onEvent` for every
 * event, and reconnects (with the then-current token) when it drops, until `close()`.
 */
export function live(query, onEvent, onState = () => {}) {
  let ws = null;
  let closed = false;
  let backoff = 500;
  const base = API || location.origin;
  const url = base.replace(/^http/, "ws") + "/order/ws" + query;
  async function open() {
    if (closed || !session) return;
    // The server closes the socket when the token expires: reconnect with a fresh one.
    if (session.expires_at - Date.now() < 5_000) {
      try {
        await refresh();
      } catch {
        if (!session) return;
      }
    }
    if (closed || !session) return;
    ws = new WebSocket(url);
    ws.onopen = () => ws.send(JSON.stringify({ type: "auth", token: session.token }));
    ws.onmessage = (m) => {
      const event = JSON.parse(m.data);
      if (event.type === "ready") {
        backoff = 500;
        onState("live");
      } else if (
        event.type === "order.created" ||
        event.type === "order.status_changed" ||
        event.type === "order.payment_changed"
      ) {
        onEvent(event);
      }
      // {"type": "error"} comes before a close (an expired token); the close reconnects.
    };
    ws.onclose = () => {
      onState("reconnecting");
      if (!closed) setTimeout(open, (backoff = Math.min(backoff * 2, 10_000)));
    };
  }
  open();
  return {
    close() {
      closed = true;
      ws?.close();
    },
  };
}

// ---------------------------------------------------------------------------------------
// Paying by card: the provider's checkout, and what it sends the browser back with.

/**
 * Starts the card checkout of `order_id`: the tab leaves for the provider's payment window and
 * comes back to `/?payment=success|fail…` (see `paymentReturn`). Rejects (ApiError) when the
 * order cannot be paid now.
 */
export async function checkout(order_id) {
  const c = await call("POST", "/payment/checkout/", { body: { order_id } });
  // sessionStorage survives the round trip in the same tab: which order it was, and the API.
  sessionStorage.setItem(
    CHECKOUT,
    JSON.stringify({ order_id, provider_order_id: c.order_id, amount: c.amount, api: API }),
  );
  if (c.checkout_url) {
    // Locally (and in the tests): the sandbox's page runs the whole checkout.
    if (!/^https?:\/\//.test(c.checkout_url)) throw new ApiError(t("The payment page could not be opened."), 0, "CHECKOUT");
    location.assign(c.checkout_url);
    return;
  }
  await tossWindow(c);
}

// Production: no checkout_url, so the provider's own payment window through its SDK v2. The
// chart's Content-Security-Policy allows the SDK's origins (web.paymentSdk); the local
// ingress's does not, and needs not: locally checkout_url is the sandbox's page.
const TOSS_SDK = "https://js.tosspayments.com/v2/standard";
let sdk = null;
async function tossWindow(c) {
  sdk ??= new Promise((ok, fail) => {
    const s = document.createElement("script");
    s.src = TOSS_SDK;
    s.onload = () => ok(window.TossPayments);
    s.onerror = () => {
      sdk = null;
      fail(new ApiError(t("The card payment window could not be loaded. Please try again."), 0, "CHECKOUT"));
    };
    document.head.append(s);
  });
  const TossPayments = await sdk;
  const payment = TossPayments(c.client_key).payment({ customerKey: c.customer_key });
  try {
    // Leaves the page for successUrl / failUrl when it is done.
    await payment.requestPayment({
      method: "CARD",
      amount: { currency: "KRW", value: c.amount },
      orderId: c.order_id,
      orderName: c.order_name,
      successUrl: c.success_url,
      failUrl: c.fail_url,
    });
  } catch (e) {
    // Closed by the customer, or refused before it started: the order stays payable.
    throw new ApiError(`The card payment did not start${e?.message ? `: ${e.message}` : ""}.`, 0, e?.code ?? "CHECKOUT");
  }
}

const CONFIRM = "pizza.confirm";

/**
 * What the provider's checkout sent the browser back with — `{outcome: "success", paymentKey,
 * orderId, amount, order_id}` or `{outcome: "fail", code, message, order_id}` (`order_id`: this
 * platform's order, when this tab started the checkout) — taken out of the address bar, or
 * null. A success is kept (sessionStorage) until `confirmed()`, so a confirm that could not
 * reach the service is tried again.
 */
export function paymentReturn() {
  const outcome = query.get("payment");
  if (outcome === "success" || outcome === "fail") {
    const orderId = query.get("orderId") ?? "";
    const order_id = started && started.provider_order_id === orderId ? started.order_id : null;
    const back =
      outcome === "success"
        ? { outcome, paymentKey: query.get("paymentKey") ?? "", orderId, amount: Number(query.get("amount")), order_id }
        : { outcome, code: query.get("code") ?? "", message: query.get("message") ?? "", order_id };
    if (outcome === "success") sessionStorage.setItem(CONFIRM, JSON.stringify(back));
    sessionStorage.removeItem(CHECKOUT);
    query.delete("payment");
    history.replaceState(null, "", location.pathname + (API ? `?api=${encodeURIComponent(API)}` : "") + location.hash);
    if (outcome === "fail") return back;
  }
  return JSON.parse(sessionStorage.getItem(CONFIRM) ?? "null");
}

/** The confirm of the kept success was answered (whatever it said): it is not tried again. */
export function confirmed() {
  sessionStorage.removeItem(CONFIRM);
}

/** POST /payment/confirm/ for what the checkout came back with. */
export function confirmPayment(back) {
  return call("POST", "/payment/confirm/", {
    body: { paymentKey: back.paymentKey, orderId: back.orderId, amount: back.amount },
  });
}
