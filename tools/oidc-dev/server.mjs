// The local OpenID provider, "dev": npm's oidc-provider (the certified Node implementation)
// with its development login screens, which accept any login and password. `make up` runs it
// on 127.0.0.1:8091 and the login service's tests run their own; the chart never deploys it.
//
// Beside it, on the same port, a sandbox of Naver Login's OAuth 2.0 endpoints as Naver
// documents them (no ID token; the profile comes from an API):
//   GET  /naver/oauth2.0/authorize   response_type=code, client_id, redirect_uri, state
//   POST /naver/oauth2.0/token       grant_type=authorization_code, client_id, client_secret,
//                                    code, state → access_token, expires_in as a string;
//                                    errors are HTTP 200 with `error`, as Naver answers
//   GET  /naver/v1/nid/me            Authorization: Bearer → {resultcode, message, response}
//
// Environment:
//   OIDC_CLIENT_SECRET   the client's secret (client id OIDC_CLIENT_ID, default `pizza`)
//   OIDC_REDIRECT_URIS   space-separated redirect URIs the client may use (both providers)
//   OIDC_KEYS_FILE       signing keys (private JWKs), created with one key when missing
//   OIDC_ROTATE=1        put a new key first (it signs from now on), keep the previous one
//   OIDC_HOST, OIDC_PORT where to listen (default 127.0.0.1, port 0: any free port)
//   OIDC_TAMPER=1        tests only: POST /__tamper?mode=… forges the next ID token the way
//                        an attacker would (aud, iss, expired, nonce, none, unknown-key,
//                        signature)
//   OIDC_DEV_MODULES     where oidc-provider is installed (default ~/.cache/pizza-oidc)
//   OIDC_STDIN_LIFELINE=1  exit when standard input closes (the test that started it ended)
// Prints `oidc-dev listening on <issuer>` once it serves.

import { createServer } from "node:http";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import crypto from "node:crypto";
import os from "node:os";
import path from "node:path";

function env(name, fallback) {
  const value = process.env[name] ?? fallback;
  if (value === undefined || value === "") {
    console.error(`oidc-dev: ${name} is required`);
    process.exit(2);
  }
  return value;
}

const modules = env("OIDC_DEV_MODULES", path.join(os.homedir(), ".cache", "pizza-oidc"));
const { default: Provider } = await import(
  pathToFileURL(createRequire(path.join(modules, "x.js")).resolve("oidc-provider")).href
);

const clientId = env("OIDC_CLIENT_ID", "pizza");
const clientSecret = env("OIDC_CLIENT_SECRET");
const redirectUris = env("OIDC_REDIRECT_URIS").split(/\s+/).filter(Boolean);

// --- signing keys: the first one signs, every one is published ----------------------------
function newKey() {
  const { privateKey } = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
  return {
    ...privateKey.export({ format: "jwk" }),
    kid: crypto.randomBytes(8).toString("hex"),
    use: "sig",
    alg: "RS256",
  };
}
const keysFile = env("OIDC_KEYS_FILE");
let keys = existsSync(keysFile) ? JSON.parse(readFileSync(keysFile, "utf8")).keys : [];
if (keys.length === 0 || process.env.OIDC_ROTATE === "1") {
  keys = [newKey(), ...keys].slice(0, 2);
  writeFileSync(keysFile, JSON.stringify({ keys }), { mode: 0o600 });
}

// --- accounts: whoever logs in, named after the login --------------------------------------
const displayName = (login) => login.charAt(0).toUpperCase() + login.slice(1);

const server = createServer();
const host = env("OIDC_HOST", "127.0.0.1");
await new Promise((ready) => server.listen(Number(env("OIDC_PORT", "0")), host, ready));
const issuer = `http://${host}:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: clientId,
      client_secret: clientSecret,
      redirect_uris: redirectUris,
      grant_types: ["authorization_code"],
      response_types: ["code"],
      token_endpoint_auth_method: "client_secret_post",
    },
  ],
  jwks: { keys },
  findAccount: (_ctx, id) => ({
    accountId: id,
    claims: () => ({ sub: id, name: displayName(id), preferred_username: id }),
  }),
  claims: { openid: ["sub"], profile: ["name", "preferred_username"] },
  // The profile claims in the ID token too, as Google and Kakao put them there.
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  cookies: { keys: [crypto.randomBytes(32).toString("hex")] },
  // A first-party client: no consent screen, the scopes asked for are granted.
  async loadExistingGrant(ctx) {
    const grantId =
      ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope(ctx.oidc.params.scope ?? "openid");
    await grant.save();
    return grant;
  },
  features: { devInteractions: { enabled: true } },
});

// --- forged ID tokens, for the tests of what the login service refuses ---------------------
const b64 = (value) => Buffer.from(JSON.stringify(value)).toString("base64url");
const unb64 = (part) => JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
const signingKey = crypto.createPrivateKey({ key: keys[0], format: "jwk" });
const attackerKey = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
function sign(header, claims, key) {
  const input = `${b64(header)}.${b64(claims)}`;
  return `${input}.${crypto.sign("sha256", Buffer.from(input), key).toString("base64url")}`;
}
function forge(idToken, mode) {
  const [h, p] = idToken.split(".");
  const header = unb64(h);
  const claims = unb64(p);
  const now = Math.floor(Date.now() / 1000);
  switch (mode) {
    case "aud": claims.aud = "someone-else"; break;
    case "iss": claims.iss = "http://issuer.invalid"; break;
    case "expired": claims.iat = now - 3600; claims.exp = now - 600; break;
    case "nonce": claims.nonce = "not-the-nonce-you-sent"; break;
    case "none": return `${b64({ alg: "none", typ: "JWT" })}.${b64(claims)}.`;
    case "unknown-key": return sign({ ...header, kid: "attacker" }, claims, attackerKey);
    case "signature": return sign(header, claims, attackerKey);
    default: throw new Error(`unknown tamper mode ${mode}`);
  }
  return sign(header, claims, signingKey);
}
let tamper = null;
provider.use(async (ctx, next) => {
  await next();
  if (tamper && ctx.path === "/token" && ctx.status === 200 && ctx.body?.id_token) {
    ctx.body = { ...ctx.body, id_token: forge(ctx.body.id_token, tamper) };
    tamper = null;
  }
});

// --- the Naver Login sandbox ---------------------------------------------------------------
const naverCodes = new Map();
const naverTokens = new Map();
const random = () => crypto.randomBytes(24).toString("base64url");
const escape = (s) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
function send(res, status, type, body) {
  res.writeHead(status, { "content-type": type, "cache-control": "no-store" });
  res.end(body);
}
const json = (res, status, value) => send(res, status, "application/json;charset=utf-8", JSON.stringify(value));
const readBody = (req) =>
  new Promise((done) => {
    let data = "";
    req.on("data", (chunk) => (data += chunk));
    req.on("end", () => done(data));
  });

async function naver(req, res, url) {
  // Naver takes its parameters in the query string or in a form body.
  const p = new URLSearchParams(url.searchParams);
  if (req.method === "POST") for (const [k, v] of new URLSearchParams(await readBody(req))) p.set(k, v);
  switch (url.pathname) {
    case "/naver/oauth2.0/authorize": {
      const redirect = p.get("redirect_uri");
      if (p.get("client_id") !== clientId || !redirectUris.includes(redirect)
          || p.get("response_type") !== "code" || !p.get("state")) {
        return send(res, 400, "text/html;charset=utf-8", "<p>invalid_request</p>");
      }
      const login = p.get("login");
      if (req.method !== "POST" || !login) {
        const hidden = ["response_type", "client_id", "redirect_uri", "state"]
          .map((k) => `<input type="hidden" name="${k}" value="${escape(p.get(k))}">`).join("");
        return send(res, 200, "text/html;charset=utf-8",
          `<!doctype html><title>NAVER (sandbox)</title><form method="post">${hidden}` +
          `<input name="login" placeholder="Enter any login" required autofocus>` +
          `<button type="submit">Log in</button></form>`);
      }
      const code = random();
      naverCodes.set(code, { login, expires: Date.now() + 60_000 });
      const to = new URL(redirect);
      to.searchParams.set("code", code);
      to.searchParams.set("state", p.get("state"));
      res.writeHead(302, { location: to.href });
      return res.end();
    }
    case "/naver/oauth2.0/token": {
      const grant = naverCodes.get(p.get("code"));
      naverCodes.delete(p.get("code"));
      if (p.get("grant_type") !== "authorization_code" || p.get("client_id") !== clientId
          || p.get("client_secret") !== clientSecret || !p.get("state")
          || !grant || grant.expires < Date.now()) {
        return json(res, 200, { error: "invalid_request", error_description: "no valid data in session" });
      }
      const token = random();
      naverTokens.set(token, grant.login);
      return json(res, 200, { access_token: token, refresh_token: random(), token_type: "bearer", expires_in: "3600" });
    }
    case "/naver/v1/nid/me": {
      const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? "");
      const login = bearer && naverTokens.get(bearer[1]);
      if (!login) return json(res, 401, { resultcode: "024", message: "Authentication failed / 인증에 실패했습니다." });
      return json(res, 200, {
        resultcode: "00",
        message: "success",
        response: { id: `naver-${login}`, nickname: login, name: displayName(login) },
      });
    }
    default:
      return json(res, 404, { error: "not_found" });
  }
}

const oidc = provider.callback();
server.on("request", (req, res) => {
  const url = new URL(req.url, issuer);
  if (url.pathname.startsWith("/naver/")) {
    naver(req, res, url).catch((e) => json(res, 500, { error: String(e) }));
  } else if (url.pathname === "/__tamper" && req.method === "POST" && process.env.OIDC_TAMPER === "1") {
    tamper = url.searchParams.get("mode");
    res.writeHead(204).end();
  } else {
    oidc(req, res);
  }
});

process.on("SIGTERM", () => process.exit(0));
if (process.env.OIDC_STDIN_LIFELINE === "1") {
  process.stdin.on("end", () => process.exit(0));
  process.stdin.resume();
}
console.log(`oidc-dev listening on ${issuer} (client ${clientId}, keys ${keys.map((k) => k.kid).join(" ")})`);
