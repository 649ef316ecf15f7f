// The web client in a real browser (Debian's chromium, headless, driven by playwright-core),
// against a stack started by e2e/tests/browser.rs, which passes:
//
//   BASE          the ingress, serving the client at / and the API
//   SECOND_PORT   a port for a second origin serving the same files, allowed by
//                 CORS_ALLOWED_ORIGINS; THIRD_PORT one that is not allowed
//   STAFF_ID, PASSWORD, CHROMIUM, PLAYWRIGHT_DIR, SHOTS (where screenshots go)
//
// A visitor sees the menu without an account, fills a cart, and registers only at "Place
// order", the cart kept. A customer registers and orders two pizzas with a request for the kitchen (double-clicking
// "Place order"); a staff member in a second browser context sees its number and the request,
// accepts the order with a message and marks it ready; the customer's page shows the number,
// the message and both changes without reloading. Then the customer pays an order by card on the provider's
// page (the sandbox, wherever the checkout answer points): cancelled there once, paid the
// second time; the page confirms it and shows it paid, and the staff board gets it only then.
// A bank transfer order shows the account and the Toss link. Then the same client from the
// second origin works through CORS, and from the third it is refused. A guest opens a
// table's QR code (TABLE_URL, read from the code's SVG by the Rust side), registers at
// checkout and orders to that table; staff see "Table 7" and the number; staff mark a pizza
// sold out at their branch in the shop console: the table's menu can't add it, another
// branch's can. A customer logs in with "dev" (the local OpenID provider, at OIDC's own login
// screen), orders, logs out and logs in with it again: the same orders. Exits non-zero on the
// first failed expectation.

import { createServer } from "node:http";
import { readFile, mkdir } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set`);
  return v;
};
const BASE = env("BASE");
const SHOTS = env("SHOTS");
const PASSWORD = env("PASSWORD");
const deps = createRequire(path.join(env("PLAYWRIGHT_DIR"), "x.js"));
const { chromium } = deps("playwright-core");
const AXE = deps.resolve("axe-core/axe.min.js");
// A customer of this run only (a database kept across runs may know earlier ones).
const CUSTOMER = `web_kim_${Date.now().toString(36)}`;
const WEB = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "web");

const TYPES = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css" };
/** The client's files on another origin (what a CDN or another host would be). */
function serveWeb(port) {
  const server = createServer(async (req, res) => {
    const url = new URL(req.url, "http://x");
    const file = url.pathname === "/" ? "index.html" : url.pathname.slice(1);
    if (file.includes("..")) return res.writeHead(404).end();
    try {
      const body = await readFile(path.join(WEB, file));
      res.writeHead(200, { "content-type": TYPES[path.extname(file)] ?? "application/octet-stream" });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  return new Promise((ok) => server.listen(Number(port), "127.0.0.1", () => ok(server)));
}

const step = (s) => console.log(`browser: ${s}`);

/** From the menu every visitor lands on, to the log in and register forms. */
async function openLogin(page) {
  await page.getByRole("button", { name: "Log in or register" }).click();
  await page.getByLabel("Member ID", { exact: true }).waitFor();
}

/** axe-core's WCAG 2.1 A/AA rules find nothing, and nothing is wider than the screen. */
async function accessible(page, what) {
  await page.addScriptTag({ path: AXE });
  const result = await page.evaluate(() =>
    window.axe.run(document, { runOnly: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] }),
  );
  const bad = result.violations.map(
    (v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join("; ")}`,
  );
  assert.deepEqual(bad, [], `${what}: accessibility violations`);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `${what}: ${overflow}px wider than the screen`);
  console.log(`  ${what}: ${result.passes.length} axe rules pass, none fail; fits the screen`);
}
/** The page's console and its sockets' frames, printed (they explain a failure). */
function watch(page, who) {
  page.on("console", (m) => console.log(`  ${who} console.${m.type()}: ${m.text()}`));
  page.on("websocket", (ws) => {
    console.log(`  ${who} websocket ${ws.url()}`);
    ws.on("framereceived", (f) => console.log(`  ${who} ws ← ${String(f.payload).slice(0, 160)}`));
    ws.on("close", () => console.log(`  ${who} ws closed`));
    ws.on("socketerror", (e) => console.log(`  ${who} ws error ${e}`));
  });
}

const browser = await chromium.launch({
  executablePath: env("CHROMIUM"),
  headless: true,
  // Root in CI containers: chromium's sandbox needs user namespaces it may not get.
  args: ["--no-sandbox", "--disable-dev-shm-usage"],
});
const servers = [];
try {
  await mkdir(SHOTS, { recursive: true });
  const phone = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 1, hasTouch: true };
  const customerCtx = await browser.newContext(phone);
  const customer = await customerCtx.newPage();
  const errors = [];
  customer.on("pageerror", (e) => errors.push(String(e)));
  watch(customer, "customer");

  step("a visitor sees the menu at / without an account and fills a cart");
  await customer.goto(BASE + "/");
  await customer.getByRole("heading", { name: "Menu" }).waitFor();
  await customer.getByRole("button", { name: "Classic", exact: true }).click();
  await customer.getByRole("heading", { name: "The Hawaiian Pizza" }).waitFor();
  await customer.getByRole("button", { name: /^Add The Hawaiian Pizza, size M/ }).click();
  await customer.screenshot({ path: path.join(SHOTS, "visitor-menu-phone.png") });

  step("asked to log in or register only at Place order; registers; the cart is still there");
  await customer.getByRole("button", { name: "Place order" }).click();
  await customer.getByText("Log in or register to place your order. Your cart is kept.").waitFor();
  await customer.getByLabel("Member ID (letters, digits, _)").fill(CUSTOMER);
  await customer.getByLabel("Your name").fill("김웹");
  await customer.getByLabel("Password (8 characters or more)").fill(PASSWORD);
  await customer.getByRole("button", { name: "Register and log in" }).click();
  await customer.getByRole("heading", { name: "Menu" }).waitFor();
  await customer.getByText("김웹 (customer)").waitFor();
  await customer.getByText("Total 18,600원").waitFor();

  step("a wrong password is told in words");
  const probe = await browser.newContext(phone);
  const p2 = await probe.newPage();
  await p2.goto(BASE + "/");
  await openLogin(p2);
  await p2.getByLabel("Member ID", { exact: true }).fill(CUSTOMER);
  await p2.getByLabel("Password", { exact: true }).fill("not the password");
  await p2.getByRole("button", { name: "Log in", exact: true }).click();
  await p2.getByRole("alert").getByText("That member ID and password do not match.").waitFor();
  await probe.close();

  step("customer browses by category and fills the cart");
  const first = customer.getByRole("button", { name: /^Add The Barbecue Chicken Pizza, size L/ });
  await customer.getByRole("button", { name: "Chicken", exact: true }).click();
  await first.click();
  // The Hawaiian (M) is in the cart from before the login.
  // On the phone the cart is below the menu; the bar at the bottom of the screen leads there.
  await customer.screenshot({ path: path.join(SHOTS, "customer-menu-phone.png") });
  await customer.getByRole("link", { name: /^Your order: 2 · 47,600원/ }).click();
  await customer.waitForFunction(() => location.hash === "#cart");
  await customer.getByLabel("Branch").selectOption("gangnam");
  await customer.getByText("Total 47,600원").waitFor(); // 29,000 + 18,600 from the seeded catalog
  const img = customer.locator(".pizza img").first();
  assert.ok(await img.evaluate((i) => i.complete && i.naturalWidth > 0), "pizza images load");

  step("silent refresh: the token is swapped before it expires, without asking anyone");
  // A duplicated tab (its sessionStorage is a copy, single-use refresh token included) must
  // not get both tabs logged out when they refresh.
  const twin = await customerCtx.newPage();
  twin.on("pageerror", (e) => errors.push(String(e)));
  await twin.addInitScript((copy) => {
    if (!sessionStorage.getItem("pizza.session")) sessionStorage.setItem("pizza.session", copy);
  }, await customer.evaluate(() => sessionStorage.getItem("pizza.session")));
  await twin.goto(BASE + "/");
  await twin.getByRole("heading", { name: "Menu" }).waitFor();
  const tokenOf = (page) => page.evaluate(() => JSON.parse(sessionStorage.getItem("pizza.session")).token);
  const before = await tokenOf(customer);
  for (const page of [customer, twin]) {
    await page.waitForFunction(
      (t) => JSON.parse(sessionStorage.getItem("pizza.session") ?? "null")?.token !== t,
      before,
      { timeout: 20_000 },
    );
  }
  await customer.waitForTimeout(500); // let the two tabs settle on one pair
  assert.equal(await tokenOf(twin), await tokenOf(customer), "the twin adopted the new pair");
  const me = await twin.evaluate(async () => {
    const s = JSON.parse(sessionStorage.getItem("pizza.session"));
    return (await fetch("/login/me/", { headers: { authorization: `Bearer ${s.token}` } })).status;
  });
  assert.equal(me, 200, "and it works");
  await twin.close();

  step("customer writes a request for the kitchen, counted against its limit");
  const REQUEST = "Well done, please.\nNo onions 🙏";
  const requests = customer.getByLabel("Requests for the kitchen (optional)");
  assert.equal(await requests.getAttribute("maxlength"), "200");
  await customer.getByText("0 / 200 characters").waitFor();
  await requests.fill(REQUEST);
  await customer.getByText(`${REQUEST.length} / 200 characters`).waitFor();
  assert.equal(
    await requests.getAttribute("aria-describedby"),
    await customer.getByText(/ \/ 200 characters$/).getAttribute("id"),
    "the counter describes the field",
  );

  step("customer double-clicks Place order: one order");
  await customer.getByRole("button", { name: "Place order" }).dblclick();
  const mine = customer.locator(".orders .order");
  await mine.first().getByText("Waiting for the shop").waitFor();
  await customer.getByText("Order placed: 47,600원", { exact: false }).waitFor();
  const count = await customer.evaluate(async (api) => {
    const s = JSON.parse(sessionStorage.getItem("pizza.session"));
    const r = await fetch(api + "/order/myorder/", { headers: { authorization: `Bearer ${s.token}` } });
    return (await r.json()).length;
  }, "");
  assert.equal(count, 1, "a double click makes one order");
  assert.ok(
    await customer.getByRole("button", { name: "Place order" }).isDisabled(),
    "with the cart emptied, Place order waits for the next pizza",
  );
  assert.equal(await mine.count(), 1);
  await mine.first().getByText("Pay at pickup").waitFor();
  const firstId = await mine.first().getAttribute("data-order-id");
  const placed = await customer.evaluate(async () => {
    const s = JSON.parse(sessionStorage.getItem("pizza.session"));
    const r = await fetch("/order/myorder/?limit=1", { headers: { authorization: `Bearer ${s.token}` } });
    return (await r.json())[0];
  });
  assert.equal(placed.special_requests, REQUEST, "the request is sent with the order");
  assert.ok(Number.isInteger(placed.order_number) && placed.order_number > 0, "the order has a number");
  const number = placed.order_number;
  await mine.first().getByText(`Order ${number}`, { exact: true }).waitFor();
  await mine.first().getByText("Your request: Well done, please. No onions 🙏").waitFor();
  await customer.getByText(`Your order number is ${number}.`, { exact: false }).waitFor();
  assert.equal(await requests.inputValue(), "", "the request goes with the order it was written for");
  await customer.getByText("0 / 200 characters").waitFor();
  await customer.screenshot({ path: path.join(SHOTS, "customer-placed-phone.png") });

  step("staff logs in, in a second browser context, and sees the order on the board");
  const staffCtx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const staff = await staffCtx.newPage();
  staff.on("pageerror", (e) => errors.push(String(e)));
  watch(staff, "staff");
  await staff.goto(BASE + "/");
  await openLogin(staff);
  await staff.getByLabel("Member ID", { exact: true }).fill(env("STAFF_ID"));
  await staff.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await staff.getByRole("button", { name: "Log in", exact: true }).click();
  // This run's order (a database kept across runs may hold others).
  const onBoard = (id, status) => staff.locator(`.order[data-order-id="${id}"][data-status="${status}"]`);
  const pending = onBoard(firstId, "PENDING");
  await pending.first().waitFor();
  await pending.first().getByText("The Barbecue Chicken Pizza (L) × 1").waitFor();
  await pending.first().getByText("Pay at pickup").waitFor();
  await pending.first().getByText(`#${number}`, { exact: true }).waitFor();
  const asked = pending.first().locator(".request");
  await asked.getByText("Request: Well done, please. No onions 🙏").waitFor();
  assert.equal(await asked.evaluate((e) => e.innerText), `Request: ${REQUEST}`, "its line breaks kept");
  await staff.getByText("● live").waitFor();
  await staff.screenshot({ path: path.join(SHOTS, "staff-board-new.png") });

  step("staff accepts with 25 minutes and a message; the customer's page changes by itself");
  const MESSAGE = "Extra pickles for you, 김웹!";
  await pending.first().getByLabel("Minutes").fill("25");
  await pending.first().getByLabel("Message to the customer (optional)").fill(MESSAGE);
  await pending.first().getByRole("button", { name: "Accept" }).click();
  await onBoard(firstId, "ACCEPTED").waitFor();
  await onBoard(firstId, "ACCEPTED").getByText(`Told the customer: “${MESSAGE}”`).waitFor();
  await mine.first().getByText("Being made").waitFor({ timeout: 10_000 });
  await mine.first().getByText(new RegExp(`^Ready at about \\d\\d:\\d\\d · The shop says: “${MESSAGE}”$`)).waitFor();
  await customer.getByText(`Your order ${number} is now: Being made. The shop says: “${MESSAGE}”`).waitFor();
  await mine.first().getByText(`Order ${number}`, { exact: true }).waitFor();
  await customer.screenshot({ path: path.join(SHOTS, "customer-accepted-phone.png") });
  await staff.screenshot({ path: path.join(SHOTS, "staff-board.png") });

  step("staff marks it ready; the customer's page changes again");
  await onBoard(firstId, "ACCEPTED").getByRole("button", { name: "Mark ready" }).click();
  await onBoard(firstId, "READY").waitFor();
  await mine.first().getByText("Ready for pickup").waitFor({ timeout: 10_000 });
  await customer.screenshot({ path: path.join(SHOTS, "customer-phone.png"), fullPage: true });

  step("staff completes it; the customer sees that too");
  await onBoard(firstId, "READY").getByRole("button", { name: "Complete" }).click();
  await onBoard(firstId, "READY").waitFor({ state: "detached" });
  await mine.first().getByText("Picked up").waitFor({ timeout: 10_000 });
  // The same page on a wide screen, with something in the cart, for the README.
  await customer.setViewportSize({ width: 1280, height: 900 });
  await customer.getByRole("button", { name: "Chicken", exact: true }).click();
  await first.click();
  await customer.screenshot({ path: path.join(SHOTS, "customer.png") });

  step("customer orders to pay by card: the tab goes to the provider's page, cancelled there");
  await customer.setViewportSize(phone.viewport);
  await customer.getByRole("link", { name: /^Your order: 1 · 29,000원/ }).click();
  await customer.getByRole("radio", { name: "Card, now" }).check();
  await customer.getByLabel("Requests for the kitchen (optional)").fill("Please ring the bell twice when it is ready, thank you.");
  const payCard = customer.getByRole("button", { name: "Place order and pay by card" });
  await payCard.waitFor();
  await customer.screenshot({ path: path.join(SHOTS, "customer-pay.png") });
  const home = new URL(BASE).origin;
  const atProvider = (u) => u.origin !== home && u.pathname === "/checkout";
  await payCard.click();
  await customer.waitForURL(atProvider);
  await customer.locator("#cancel").click();
  await customer.waitForURL((u) => u.origin === home);
  await customer.getByRole("alert").getByText(/^The card payment was cancelled on the payment page\. Nothing was charged\./).waitFor()
    .catch(async (e) => {
      console.log(`  the alert says: ${await customer.locator("#alert").textContent()} (hidden: ${await customer.locator("#alert").isHidden()})`);
      throw e;
    });
  assert.equal(await customer.evaluate(() => location.search), "", "the provider's answer leaves the address bar");
  const cardOrder = mine.first();
  await cardOrder.getByText("Not paid yet (card)").waitFor();
  await cardOrder.getByText("Waiting for payment").waitFor();
  const cardId = await cardOrder.getAttribute("data-order-id");
  assert.notEqual(cardId, firstId);
  await staff.waitForTimeout(500);
  assert.equal(await staff.locator(`[data-order-id="${cardId}"]`).count(), 0, "the kitchen does not see an unpaid order");

  step("it pays from My orders, approved at the provider: the page shows it paid by itself");
  const ours = customer.locator(`.orders .order[data-order-id="${cardId}"]`);
  await ours.getByRole("button", { name: /^Pay by card for the order of / }).click();
  await customer.waitForURL(atProvider);
  await customer.locator("#approve").click();
  await customer.waitForURL((u) => u.origin === home);
  // The page confirms the payment with the provider's answer (no reload by the test).
  await ours.getByText("Paid by card").waitFor({ timeout: 15_000 });
  assert.equal(await customer.evaluate(() => location.search), "", "the payment's query is gone");
  await ours.getByText("Waiting for the shop").waitFor({ timeout: 10_000 }); // AWAITING_PAYMENT → PENDING, live
  assert.equal(await ours.getAttribute("data-payment"), "PAID");
  assert.equal(await ours.getByRole("button", { name: /^Pay by card/ }).count(), 0, "nothing left to pay");
  await ours.scrollIntoViewIfNeeded();
  await customer.screenshot({ path: path.join(SHOTS, "customer-paid.png") });

  step("the staff board gets the order once it is paid, marked so");
  const paidOnBoard = onBoard(cardId, "PENDING");
  await paidOnBoard.waitFor({ timeout: 10_000 });
  await paidOnBoard.getByText("Paid by card").waitFor();
  await staff.getByRole("heading", { name: "Deposits to match" }).waitFor();
  await staff.getByRole("heading", { name: "Refunds to do" }).waitFor();
  await staff.screenshot({ path: path.join(SHOTS, "staff-board-paid.png") });

  step("a bank transfer order shows the account, the amount and the Toss link");
  await customer.getByRole("button", { name: "Classic", exact: true }).click();
  await customer.getByRole("button", { name: /^Add The Hawaiian Pizza, size M/ }).click();
  await customer.getByRole("link", { name: /^Your order: 1 · 18,600원/ }).click();
  await customer.getByRole("radio", { name: "Bank transfer, now" }).check();
  const payer = customer.getByLabel("Name the transfer comes from");
  assert.equal(await payer.inputValue(), "김웹", "the payer's name is the member's to begin with");
  await customer.getByRole("button", { name: "Place order and pay by transfer" }).click();
  const box = mine.first().getByRole("group", { name: "How to pay by bank transfer" });
  await box.waitFor();
  const transfer = await customer.evaluate(async () => {
    const s = JSON.parse(sessionStorage.getItem("pizza.session"));
    const r = await fetch("/order/myorder/?limit=1", { headers: { authorization: `Bearer ${s.token}` } });
    return (await r.json())[0].transfer;
  });
  assert.equal(transfer.amount, 18_600);
  assert.equal(transfer.payer_name, "김웹");
  await box.getByText(transfer.account_no, { exact: true }).waitFor();
  await box.getByText(transfer.bank, { exact: true }).waitFor();
  await box.getByText("18,600원", { exact: true }).waitFor();
  await box.getByText(/^Send exactly 18,600원 by .+, from an account in the name 김웹\./).waitFor();
  const toss = box.getByRole("link", { name: "Open Toss to send it" });
  assert.equal(await toss.getAttribute("href"), transfer.deep_link);
  assert.match(transfer.deep_link, /^supertoss:\/\/send\?/);
  assert.equal(
    await customer.evaluate(() => document.activeElement?.getAttribute("aria-label")),
    "How to pay by bank transfer",
    "the instructions take the focus",
  );
  await mine.first().getByText("Not paid yet (bank transfer)").waitFor();
  await customer.screenshot({ path: path.join(SHOTS, "customer-transfer.png") });

  step("a guest opens table 7's QR code (its URL read from the SVG), orders, registering at checkout");
  // axe is injected into this context's pages too (it bypasses the CSP; the customer's does not).
  const guestCtx = await browser.newContext({ ...phone, bypassCSP: true });
  const guest = await guestCtx.newPage();
  guest.on("pageerror", (e) => errors.push(String(e)));
  watch(guest, "guest");
  await guest.goto(env("TABLE_URL"));
  await guest.getByText("Table 7 · 강남점").waitFor();
  assert.ok(await guest.getByLabel("Branch").isHidden(), "the table's branch is fixed");
  await guest.getByRole("button", { name: "Classic", exact: true }).click();
  await guest.getByRole("button", { name: /^Add The Hawaiian Pizza, size M/ }).click();
  await accessible(guest, "a table's menu, before logging in");
  await guest.getByRole("button", { name: "Place order" }).click();
  await guest.getByText("Log in or register to place your order. Your cart is kept.").waitFor();
  await accessible(guest, "log in or register, asked at Place order");
  await guest.getByLabel("Member ID (letters, digits, _)").fill(`${CUSTOMER}_t`);
  await guest.getByLabel("Your name").fill("이손님");
  await guest.getByLabel("Password (8 characters or more)").fill(PASSWORD);
  await guest.getByRole("button", { name: "Register and log in" }).click();
  await guest.getByText("이손님 (customer)").waitFor();
  await guest.getByText("Table 7 · 강남점").waitFor();
  await guest.getByText("Total 18,600원").waitFor();
  await guest.getByRole("button", { name: "Place order" }).click();
  const atTable = guest.locator(".orders .order").first();
  await atTable.getByText(/^Order \d+ · Table 7$/).waitFor();
  await atTable.getByText("Waiting for the shop").waitFor();
  await guest.getByText(/at table 7\./).waitFor();
  const tableOrder = await atTable.getAttribute("data-order-id");
  await guest.screenshot({ path: path.join(SHOTS, "table-order-phone.png") });

  step("staff see the table and the number on the board; the guest's page follows the accept");
  const tableCard = onBoard(tableOrder, "PENDING");
  await tableCard.getByText("Table 7").waitFor();
  await tableCard.getByText(/^#\d+$/).waitFor();
  await tableCard.getByRole("button", { name: "Accept" }).click();
  await atTable.getByText("Being made").waitFor({ timeout: 10_000 });
  await accessible(guest, "a table's order, accepted");

  step("staff mark The Hawaiian Pizza (L) sold out at gangnam: not at the table, still elsewhere");
  const soldOutButton = staff.getByRole("button", { name: "Sold out: The Hawaiian Pizza (L)" });
  await soldOutButton.click();
  await staff.getByRole("button", { name: "Sold out: The Hawaiian Pizza (L)", pressed: true }).waitFor();
  await staff.screenshot({ path: path.join(SHOTS, "staff-console.png") });
  // Every menu replica has taken the change in (catalog.updated; under CI load that can take
  // longer than this test's last few steps): six reads in a row through the ingress, which
  // spreads them over the replicas, say sold out.
  const everyReplica = await guest.evaluate(async () => {
    let inARow = 0;
    for (let i = 0; i < 100 && inARow < 6; i++) {
      const menu = await (await fetch("/menu/?bran_id=gangnam", { cache: "no-store" })).json();
      inARow = menu.find((p) => p.pizza_id === "hawaiian_l").available ? 0 : inARow + 1;
      if (inARow === 0) await new Promise((ok) => setTimeout(ok, 50));
    }
    return inARow >= 6;
  });
  assert.ok(everyReplica, "every menu replica knows it is sold out at gangnam");
  await guest.reload();
  await guest.getByText("Table 7 · 강남점").waitFor();
  await guest.getByRole("button", { name: "Classic", exact: true }).click();
  const hawaiianL = guest.getByRole("button", { name: /^Add The Hawaiian Pizza, size L/ });
  await guest.getByRole("button", { name: /^Add The Hawaiian Pizza, size L, .*\(sold out\)$/ }).waitFor();
  assert.ok(await hawaiianL.isDisabled(), "sold out at the table's branch");
  await customer.getByLabel("Branch").selectOption("hongdae");
  await customer.getByRole("button", { name: "Classic", exact: true }).click();
  await customer.getByRole("button", { name: /^Add The Hawaiian Pizza, size L, [\d,]+원$/ }).waitFor();
  assert.ok(await customer.getByRole("button", { name: /^Add The Hawaiian Pizza, size L/ }).isEnabled(), "on sale at hongdae");
  await customer.getByLabel("Branch").selectOption("gangnam");
  await customer.getByRole("button", { name: /^Add The Hawaiian Pizza, size L, .*\(sold out\)$/ }).waitFor();
  await soldOutButton.click();
  await staff.getByRole("button", { name: "Sold out: The Hawaiian Pizza (L)", pressed: false }).waitFor();

  step("a pizza with a crust and a topping, and a drink: priced by the menu, shown to the kitchen");
  // The item sheet, checked by axe-core while open (the guest's context allows the script).
  await guest.getByRole("button", { name: "Chicken", exact: true }).click();
  await guest.getByRole("button", { name: "Choose options for The Barbecue Chicken Pizza" }).click();
  const guestSheet = guest.getByRole("dialog", { name: "The Barbecue Chicken Pizza" });
  await guestSheet.getByRole("group", { name: /^도우 선택/ }).waitFor();
  await accessible(guest, "the item sheet");
  await guestSheet.getByRole("button", { name: "Cancel" }).click();
  await guestSheet.waitFor({ state: "hidden" });
  await guestCtx.close();

  await customer.getByRole("radio", { name: "Pay at pickup" }).check();
  await customer.getByRole("button", { name: "Chicken", exact: true }).click();
  await customer.getByRole("button", { name: "Choose options for The Barbecue Chicken Pizza" }).click();
  const sheet = customer.getByRole("dialog", { name: "The Barbecue Chicken Pizza" });
  await sheet.getByRole("radio", { name: "L · 29,000원" }).check();
  await sheet.getByRole("radio", { name: /^치즈 크러스트/ }).check();
  await sheet.getByRole("checkbox", { name: /^치즈 추가/ }).check();
  await sheet.getByText("Total 33,500원").waitFor(); // 29,000 + 3,000 + 1,500
  // Up to three toppings: a fourth waits while three are chosen.
  for (const name of [/^페퍼로니 추가/, /^양송이 추가/]) await sheet.getByRole("checkbox", { name }).check();
  assert.ok(await sheet.getByRole("checkbox", { name: /^블랙 올리브 추가/ }).isDisabled(), "no fourth topping");
  for (const name of [/^페퍼로니 추가/, /^양송이 추가/]) await sheet.getByRole("checkbox", { name }).uncheck();
  await customer.screenshot({ path: path.join(SHOTS, "item-sheet-phone.png") });
  await sheet.getByRole("button", { name: "Add to cart" }).click();
  await sheet.waitFor({ state: "hidden" });
  await customer.getByRole("button", { name: "Drink", exact: true }).click();
  await customer.getByRole("button", { name: /^Add Coca-Cola, size 500ml, 2,000원/ }).click();
  await customer.getByText("The Barbecue Chicken Pizza (L) · 치즈 크러스트, 치즈 추가").waitFor();
  await customer.getByRole("link", { name: /^Your order: 2 · 35,500원/ }).click();
  await customer.getByRole("button", { name: "Place order" }).click();
  await customer.getByText("Order placed: 35,500원", { exact: false }).waitFor();
  const withOptions = mine.first();
  await withOptions.getByText("The Barbecue Chicken Pizza (L) × 1 (치즈 크러스트, 치즈 추가), Coca-Cola (500ml) × 1").waitFor();
  const optionsId = await withOptions.getAttribute("data-order-id");
  const onTheBoard = onBoard(optionsId, "PENDING");
  await onTheBoard.waitFor({ timeout: 10_000 });
  await onTheBoard.getByText("The Barbecue Chicken Pizza (L) × 1 (치즈 크러스트, 치즈 추가)", { exact: false }).waitFor();
  await onTheBoard.getByRole("button", { name: "Reject" }).waitFor();

  step("the printable sheet of the branch's QR codes, from the shop console");
  const [sheetPage] = await Promise.all([
    staff.waitForEvent("popup"),
    staff.getByRole("button", { name: "Print the QR codes" }).click(),
  ]);
  await sheetPage.locator("figure svg").first().waitFor();
  assert.equal(await sheetPage.locator("figure").filter({ hasText: "7" }).count(), 1, "table 7 on the sheet");
  assert.equal(
    await sheetPage.locator("main").evaluate((m) => getComputedStyle(m).display),
    "grid",
    "laid out by the page's own stylesheet",
  );
  await sheetPage.screenshot({ path: path.join(SHOTS, "qr-sheet.png") });
  await sheetPage.close();

  step("the client from a second origin, allowed by CORS_ALLOWED_ORIGINS");
  servers.push(await serveWeb(env("SECOND_PORT")));
  servers.push(await serveWeb(env("THIRD_PORT")));
  const other = await browser.newContext(phone);
  const o = await other.newPage();
  o.on("pageerror", (e) => errors.push(String(e)));
  await o.goto(`http://127.0.0.1:${env("SECOND_PORT")}/?api=${encodeURIComponent(BASE)}`);
  await openLogin(o);
  await o.getByLabel("Member ID", { exact: true }).fill(CUSTOMER);
  await o.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await o.getByRole("button", { name: "Log in", exact: true }).click();
  await o.getByRole("heading", { name: "Menu" }).waitFor();
  await o.locator(".pizza").first().waitFor();
  await o.locator('.order[data-status="COMPLETED"]').first().waitFor();
  await o.getByText("● live").waitFor();
  await other.close();

  step("and from an origin not in the list: refused, and said so");
  const third = await browser.newContext(phone);
  const t = await third.newPage();
  await t.goto(`http://127.0.0.1:${env("THIRD_PORT")}/?api=${encodeURIComponent(BASE)}`);
  // The menu cannot even be read from there: the forms are one click away all the same.
  await openLogin(t);
  await t.getByLabel("Member ID", { exact: true }).fill(CUSTOMER);
  await t.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await t.getByRole("button", { name: "Log in", exact: true }).click();
  await t.getByRole("alert").getByText("Cannot reach the service").waitFor();
  await third.close();

  step("accessibility on a phone-sized screen: keyboard only, then axe-core on every page");
  // axe is injected as a script, which the page's CSP forbids: this context alone bypasses it.
  const a11y = await browser.newContext({ ...phone, bypassCSP: true });
  const a = await a11y.newPage();
  a.on("pageerror", (e) => errors.push(String(e)));
  await a.goto(BASE + "/");
  await a.locator(".pizza").first().waitFor();
  await accessible(a, "the visitor's menu");
  await a.keyboard.press("Tab");
  assert.equal(await a.evaluate(() => document.activeElement.textContent), "Skip to content");
  await a.keyboard.press("Tab");
  assert.equal(await a.evaluate(() => document.activeElement.textContent), "Log in or register");
  await a.keyboard.press("Enter");
  await a.getByLabel("Member ID", { exact: true }).waitFor();
  await accessible(a, "login page");
  await a.screenshot({ path: path.join(SHOTS, "login-phone.png") });
  assert.equal(await a.evaluate(() => document.activeElement.labels?.[0]?.textContent ?? document.activeElement.outerHTML), "Member ID");
  await a.keyboard.type(CUSTOMER);
  await a.keyboard.press("Tab");
  assert.equal(await a.evaluate(() => document.activeElement.labels?.[0]?.textContent), "Password");
  await a.keyboard.type(PASSWORD);
  await a.keyboard.press("Enter");
  await a.locator(".pizza").first().waitFor();
  await a.locator(".orders .order").first().waitFor();
  await a.locator('.orders .order[data-payment="PAID"]').first().waitFor();
  await a.getByRole("group", { name: "How to pay by bank transfer" }).first().waitFor();
  await accessible(a, "customer page (orders paid by card, by transfer, at pickup)");
  // The payment choice by keyboard: arrows move through the radio group, Tab to the name.
  await a.getByRole("radio", { name: "Pay at pickup" }).focus();
  await a.keyboard.press("ArrowDown");
  await a.keyboard.press("ArrowDown");
  assert.ok(await a.getByRole("radio", { name: "Bank transfer, now" }).isChecked(), "arrows pick the transfer");
  await a.keyboard.press("Tab");
  assert.equal(await a.evaluate(() => document.activeElement.labels?.[0]?.textContent), "Name the transfer comes from");
  await accessible(a, "customer page, paying by transfer");
  await a.getByRole("button", { name: "Log out" }).click();
  await openLogin(a);
  await a.getByLabel("Member ID", { exact: true }).fill(env("STAFF_ID"));
  await a.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await a.getByRole("button", { name: "Log in", exact: true }).click();
  await a.getByRole("heading", { name: /^Orders/ }).waitFor();
  // The card order, paid, is new on the board: its number, its request, the accept form.
  const paidCard = a.locator(`.order[data-order-id="${cardId}"][data-status="PENDING"]`);
  await paidCard.getByText("Request: Please ring the bell twice").waitFor();
  await paidCard.getByLabel("Message to the customer (optional)").waitFor();
  await accessible(a, "staff board (a request, the accept form with its message)");

  step("accessibility of an accepted order's message, on the customer's phone");
  const c = await a11y.newPage();
  c.on("pageerror", (e) => errors.push(String(e)));
  await c.goto(BASE + "/");
  await openLogin(c);
  await c.getByLabel("Member ID", { exact: true }).fill(CUSTOMER);
  await c.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await c.getByRole("button", { name: "Log in", exact: true }).click();
  const cardMine = c.locator(`.orders .order[data-order-id="${cardId}"]`);
  await cardMine.getByText("Waiting for the shop").waitFor();
  await c.getByText("● live").waitFor();
  await paidCard.getByLabel("Message to the customer (optional)").fill("Bell twice, promised.");
  await paidCard.getByRole("button", { name: "Accept" }).click();
  await cardMine.getByText(/ · The shop says: “Bell twice, promised\.”$/).waitFor({ timeout: 10_000 });
  await cardMine.getByText("Your request: Please ring the bell twice", { exact: false }).waitFor();
  await c.getByLabel("Requests for the kitchen (optional)").fill("x".repeat(200));
  await c.getByText("200 / 200 characters").waitFor();
  await accessible(c, "customer page (an accepted order's message, a full request)");
  await a11y.close();

  step("in Korean, as the browser asks for it: the new screens, axe-core on each");
  const koCtx = await browser.newContext({ ...phone, locale: "ko-KR", bypassCSP: true });
  const k = await koCtx.newPage();
  k.on("pageerror", (e) => errors.push(String(e)));
  await k.goto(BASE + "/");
  await k.getByRole("heading", { name: "메뉴" }).waitFor();
  assert.equal(await k.evaluate(() => document.documentElement.lang), "ko");
  await k.getByRole("button", { name: "클래식", exact: true }).click();
  await k.getByRole("button", { name: /^The Hawaiian Pizza 담기, 사이즈 M, 18,600원$/ }).click();
  await k.getByText("합계 18,600원").waitFor();
  await accessible(k, "the visitor's menu, in Korean");
  await k.getByRole("button", { name: "주문하기" }).click();
  await k.getByText("주문하려면 로그인하거나 가입해 주세요. 장바구니는 그대로 있습니다.").waitFor();
  await accessible(k, "log in or register, in Korean");
  await k.goto(env("TABLE_URL"));
  await k.getByText("7번 테이블 · 강남점").waitFor();
  await accessible(k, "a table's menu, in Korean");
  await k.getByRole("button", { name: "로그인 또는 회원가입" }).click();
  await k.getByLabel("아이디", { exact: true }).fill(env("STAFF_ID"));
  await k.getByLabel("비밀번호", { exact: true }).fill(PASSWORD);
  await k.getByRole("button", { name: "로그인", exact: true }).click();
  await k.getByRole("heading", { name: "매장 관리" }).waitFor();
  await k.getByRole("button", { name: "품절: The Hawaiian Pizza (L)" }).waitFor();
  await k.getByRole("button", { name: "신규 주문 멈추기" }).waitFor();
  await accessible(k, "the staff board and the shop, in Korean");
  await k.screenshot({ path: path.join(SHOTS, "staff-console-ko-phone.png"), fullPage: true });
  await koCtx.close();

  step("an ADMIN in the shop: a new price, a new pizza, a branch's weekly hours");
  const adminCtx = await browser.newContext({ viewport: { width: 1280, height: 900 }, bypassCSP: true });
  const ad = await adminCtx.newPage();
  ad.on("pageerror", (e) => errors.push(String(e)));
  await ad.goto(BASE + "/");
  await openLogin(ad);
  await ad.getByLabel("Member ID", { exact: true }).fill(env("ADMIN_ID"));
  await ad.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await ad.getByRole("button", { name: "Log in", exact: true }).click();
  await ad.getByRole("heading", { name: "The shop" }).waitFor();
  await ad.locator('.console[data-loaded="gangnam"]').waitFor();
  await ad.getByLabel("Branch", { exact: true }).selectOption("jamsil");
  await ad.locator('.console[data-loaded="jamsil"]').waitFor();
  await ad.getByLabel("Price: The Hawaiian Pizza (S)", { exact: true }).fill("17900");
  await ad.getByRole("button", { name: "Save price: The Hawaiian Pizza (S)" }).click();
  await ad.getByText("The Hawaiian Pizza (S) costs 17,900원 now.").waitFor();
  const suffix = Date.now().toString(36);
  const newName = `Web Margherita ${suffix}`;
  await ad.getByLabel("Id (a-z, 0-9, _)", { exact: true }).fill(`web_${suffix}`);
  await ad.getByLabel("Name", { exact: true }).fill(newName);
  await ad.getByLabel("Category", { exact: true }).selectOption("Veggie");
  await ad.getByLabel("Size", { exact: true }).selectOption("M");
  await ad.getByLabel("Price (won)", { exact: true }).fill("15000");
  await ad.getByRole("button", { name: "Add the pizza" }).click();
  await ad.getByText(`${newName} (M) is on the menu at 15,000원.`).waitFor();
  await ad.getByRole("button", { name: `Sold out: ${newName} (M)` }).waitFor();
  // What an option adds, for every branch; then back, as the catalog was.
  const edge = "도우 선택: 치즈 크러스트";
  await ad.getByLabel(`Price added: ${edge}`, { exact: true }).fill("3500");
  await ad.getByRole("button", { name: `Save price added: ${edge}` }).click();
  await ad.getByText(`${edge} adds 3,500원 now.`).waitFor();
  // Every replica's sheet follows (catalog.updated), within a couple of seconds.
  const followed = await ad.evaluate(async () => {
    for (let i = 0; i < 40; i++) {
      const sheet = await (await fetch("/menu/items/hawaiian/", { cache: "no-store" })).json();
      if (sheet.option_groups[0].options.find((o) => o.option_id === "crust_cheese_edge").price_delta === 3500) return true;
      await new Promise((ok) => setTimeout(ok, 100));
    }
    return false;
  });
  assert.ok(followed, "the item sheet prices the cheese edge at 3,500원");
  await ad.getByLabel(`Price added: ${edge}`, { exact: true }).fill("3000");
  await ad.getByRole("button", { name: `Save price added: ${edge}` }).click();
  await ad.getByText(`${edge} adds 3,000원 now.`).waitFor();
  await ad.getByRole("button", { name: `Sold out: ${edge}`, pressed: false }).click();
  await ad.getByRole("button", { name: `Sold out: ${edge}`, pressed: true }).click();
  await ad.getByRole("button", { name: `Sold out: ${edge}`, pressed: false }).waitFor();
  // What an item says: a description and an allergen more, saved and served; then back.
  await ad.getByLabel("Item", { exact: true }).selectOption("garlic_bread");
  const koField = ad.getByLabel("Description (Korean)", { exact: true });
  const seedText = await koField.inputValue();
  assert.ok(seedText.length > 0, "the seed's description is shown");
  await koField.fill("갓 구운 마늘빵 여섯 조각.");
  await ad.getByRole("checkbox", { name: "egg", exact: true }).check();
  await ad.getByRole("button", { name: "Save what it says" }).click();
  await ad.getByText("Garlic Bread: saved.").waitFor();
  const said = await ad.evaluate(async () => {
    for (let i = 0; i < 40; i++) {
      const sheet = await (await fetch("/menu/items/garlic_bread/", { cache: "no-store" })).json();
      if (sheet.description_ko === "갓 구운 마늘빵 여섯 조각.") return sheet.allergens;
      await new Promise((ok) => setTimeout(ok, 100));
    }
    return null;
  });
  assert.deepEqual(said, ["wheat", "milk", "egg"], "served with its allergens");
  await koField.fill(seedText);
  await ad.getByRole("checkbox", { name: "egg", exact: true }).uncheck();
  await ad.getByRole("button", { name: "Save what it says" }).click();
  const back = await ad.evaluate(async (text) => {
    for (let i = 0; i < 40; i++) {
      const sheet = await (await fetch("/menu/items/garlic_bread/", { cache: "no-store" })).json();
      if (sheet.description_ko === text) return sheet.allergens;
      await new Promise((ok) => setTimeout(ok, 100));
    }
    return null;
  }, seedText);
  assert.deepEqual(back, ["wheat", "milk"], "and back as the seed had it");
  await ad.getByLabel("Open around the clock (no hours)", { exact: true }).uncheck();
  await ad.getByLabel("Open on Monday", { exact: true }).check();
  await ad.getByLabel("Monday opens at", { exact: true }).fill("11:00");
  await ad.getByLabel("Monday closes at", { exact: true }).fill("21:30");
  await ad.getByRole("button", { name: "Save hours" }).click();
  await ad.getByText("The opening hours are saved.").waitFor();
  const saved = await ad.evaluate(async () => (await (await fetch("/order/branch/")).json()).find((b) => b.bran_id === "jamsil").hours);
  assert.deepEqual(saved, [{ day: "MON", opens: "11:00", closes: "21:30" }], "the week as saved");
  await accessible(ad, "the shop as ADMIN (prices, a new pizza, hours)");
  // Around the clock again, as the other tests expect of jamsil.
  await ad.getByLabel("Open around the clock (no hours)", { exact: true }).check();
  await ad.getByRole("button", { name: "Save hours" }).click();
  await ad.getByText("The opening hours are saved.").waitFor();
  await adminCtx.close();
  const adminKo = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: "ko-KR", bypassCSP: true });
  const ak = await adminKo.newPage();
  watch(ak, "admin-ko");
  ak.on("pageerror", (e) => errors.push(String(e)));
  await ak.goto(BASE + "/");
  await ak.getByRole("button", { name: "로그인 또는 회원가입" }).click();
  await ak.getByLabel("아이디", { exact: true }).fill(env("ADMIN_ID"));
  await ak.getByLabel("비밀번호", { exact: true }).fill(PASSWORD);
  await ak.getByRole("button", { name: "로그인", exact: true }).click();
  await ak.locator('.console[data-loaded="gangnam"]').waitFor();
  await ak.getByRole("heading", { name: "새 피자" }).waitFor();
  await accessible(ak, "the shop as ADMIN, in Korean");
  await adminKo.close();

  step("a customer logs in with dev (the local OpenID provider), orders, logs out, logs in with dev again: the same orders");
  const socialCtx = await browser.newContext({ ...phone, bypassCSP: true });
  // The provider's development screens ask for web fonts: nothing leaves the machine.
  await socialCtx.route((url) => !["127.0.0.1", "localhost"].includes(url.hostname), (r) => r.abort());
  const so = await socialCtx.newPage();
  so.on("pageerror", (e) => errors.push(String(e)));
  watch(so, "social");
  const login = `dana${Date.now().toString(36)}`;
  const shown = `${login[0].toUpperCase()}${login.slice(1)} (customer)`;
  await so.goto(BASE + "/");
  await openLogin(so);
  const continueDev = so.getByRole("button", { name: "Continue with dev" });
  await continueDev.waitFor();
  await accessible(so, "log in, with a provider's button");
  await so.screenshot({ path: path.join(SHOTS, "social-login-phone.png"), fullPage: true });
  await continueDev.click();
  // The provider's own screen: its development login takes any login and password.
  await so.locator('input[name="login"]').fill(login);
  await so.locator('input[name="password"]').fill("any password");
  await so.getByRole("button", { name: "Sign-in" }).click();
  await so.getByText(shown).waitFor();
  assert.ok(!(await so.evaluate(() => location.href)).includes("oauth_code"), "the one-time code is gone from the address");
  await so.getByText("dev: linked").waitFor();
  await so.getByRole("button", { name: "Classic", exact: true }).click();
  await so.getByRole("button", { name: /^Add The Hawaiian Pizza, size M/ }).click();
  await so.getByRole("button", { name: "Place order" }).click();
  const socialPlaced = await so.getByText(/Your order number is \d+\./).textContent();
  const socialNumber = socialPlaced.match(/Your order number is (\d+)\./)[1];
  const myOrders = so.getByRole("list", { name: "My orders" });
  await myOrders.locator(".order-no", { hasText: new RegExp(`^Order ${socialNumber}(\\D|$)`) }).waitFor();
  await so.getByRole("button", { name: "Log out" }).click();
  await so.getByRole("button", { name: "Log in or register" }).waitFor();
  await openLogin(so);
  await so.getByRole("button", { name: "Continue with dev" }).click();
  // The provider may remember the login (its own session) and send the browser straight back.
  const signIn = so.getByRole("button", { name: "Sign-in" });
  await Promise.race([signIn.waitFor(), so.getByText(shown).waitFor()]);
  if (await signIn.isVisible()) {
    await so.locator('input[name="login"]').fill(login);
    await so.locator('input[name="password"]').fill("any password");
    await signIn.click();
  }
  await so.getByText(shown).waitFor();
  await myOrders.locator(".order-no", { hasText: new RegExp(`^Order ${socialNumber}(\\D|$)`) }).waitFor();
  await socialCtx.close();

  // An operator reads the order service's API documents through the ingress.
  step("API docs UI");
  const docsCtx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const docs = await docsCtx.newPage();
  docs.on("pageerror", (e) => errors.push(String(e)));
  const fetched = [];
  docs.on("request", (r) => fetched.push(r.url()));
  await docs.goto(`${BASE}/order/docs/`);
  await docs.getByRole("heading", { name: /pizza-order/ }).first().waitFor();
  // Every operation of the document is listed, grouped by tag.
  await docs.locator(".opblock-summary-path", { hasText: /^\/order\/$/ }).first().waitFor();
  await docs.screenshot({ path: path.join(SHOTS, "order-api-docs.png") });
  assert.deepEqual(
    fetched.filter((u) => !u.startsWith(BASE)),
    [],
    "the docs UI loads nothing from elsewhere",
  );
  await docsCtx.close();

  assert.deepEqual(errors, [], "no script errors on any page");
  step("all passed");
} finally {
  await browser.close();
  for (const s of servers) s.close();
}
