// A real OpenID Connect provider on loopback for the single sign-on tests: panva's
// oidc-provider (OpenID Certified), with a sign-in page of its own standing in for NHSmail's.
//
// Started by the tests (src/commonroom/accounts/tests/oidc_server.py) with:
//   OIDC_PORT, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, OIDC_REDIRECT_URIS (comma-separated),
//   OIDC_POST_LOGOUT_URIS (comma-separated), OIDC_ACCOUNTS (JSON: email -> {name, password,
//   email_verified}).
// Prints "READY <issuer>" once it listens.
//
// It asks for a nonce and PKCE on every authorisation request (a client that sends neither is
// refused), and has a test-only control, POST /__test/id-token {"mode": ...}, that makes the
// token endpoint answer with an ID token that is forged (signed by another key), expired, for
// another audience or with another nonce: what an attacker between the two, or a broken
// provider, would send. GET /__test/last-auth shows the last authorisation request's parameters.

import http from "node:http";
import { createHash, randomUUID } from "node:crypto";
import Provider from "oidc-provider";
import { SignJWT, decodeJwt, exportJWK, generateKeyPair } from "jose";

const port = Number(process.env.OIDC_PORT);
const issuer = `http://127.0.0.1:${port}`;
const list = (name) => (process.env[name] || "").split(",").filter(Boolean);
const accounts = JSON.parse(process.env.OIDC_ACCOUNTS || "{}");

const signing = await generateKeyPair("RS256", { extractable: true });
const kid = randomUUID();
const privateJwk = { ...(await exportJWK(signing.privateKey)), kid, alg: "RS256", use: "sig" };
const stranger = await generateKeyPair("RS256", { extractable: true });

let tokenMode = "normal";
let lastAuth = {};

const subOf = (email) => createHash("sha256").update(email).digest("hex").slice(0, 24);
const bySub = Object.fromEntries(Object.keys(accounts).map((email) => [subOf(email), email]));

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: process.env.OIDC_CLIENT_ID,
      client_secret: process.env.OIDC_CLIENT_SECRET,
      redirect_uris: list("OIDC_REDIRECT_URIS"),
      post_logout_redirect_uris: list("OIDC_POST_LOGOUT_URIS"),
      grant_types: ["authorization_code"],
      response_types: ["code"],
      token_endpoint_auth_method: "client_secret_post",
    },
  ],
  jwks: { keys: [privateJwk] },
  cookies: { keys: ["commonroom-test-provider"] },
  pkce: { required: () => true },
  acrValues: ["AAL1", "AAL2"],
  claims: {
    // How the person signed in goes into every ID token, as Entra ID and CIS2 send it.
    openid: ["sub", "acr", "amr", "auth_time"],
    email: ["email", "email_verified"],
    profile: ["name"],
  },
  features: {
    devInteractions: { enabled: false },
    rpInitiatedLogout: {
      enabled: true,
      // Signing out from Commonroom signs out here at once (a real provider may ask first).
      logoutSource: async (ctx, form) => {
        ctx.body = `<!doctype html><html><body>${form}
          <input type="hidden" form="op.logoutForm" name="logout" value="yes">
          <script>document.forms[0].submit()</script>
          <noscript><button form="op.logoutForm" type="submit">Sign out</button></noscript>
          </body></html>`;
      },
    },
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, sub) {
    const email = bySub[sub];
    if (!email) return undefined;
    const account = accounts[email];
    return {
      accountId: sub,
      async claims() {
        return {
          sub,
          email,
          email_verified: account.email_verified !== false,
          name: account.name,
        };
      },
    };
  },
});
provider.use(async (ctx, next) => {
  if (ctx.path === "/auth") {
    lastAuth = Object.fromEntries(new URLSearchParams(ctx.querystring));
    if (!lastAuth.nonce || !lastAuth.code_challenge) {
      ctx.status = 400;
      ctx.body = "This provider needs a nonce and PKCE on every sign-in.";
      return;
    }
  }
  await next();
  if (ctx.path === "/token" && ctx.body && ctx.body.id_token && tokenMode !== "normal") {
    ctx.body = { ...ctx.body, id_token: await tamper(ctx.body.id_token, tokenMode) };
  }
});

async function tamper(idToken, mode) {
  const claims = decodeJwt(idToken);
  const now = Math.floor(Date.now() / 1000);
  let key = signing.privateKey;
  if (mode === "forged") key = stranger.privateKey;
  if (mode === "expired") Object.assign(claims, { iat: now - 7200, exp: now - 3600 });
  if (mode === "audience") claims.aud = "someone-else";
  if (mode === "nonce") claims.nonce = "not-the-one-you-sent";
  return new SignJWT(claims).setProtectedHeader({ alg: "RS256", kid }).sign(key);
}

const escape = (s) =>
  String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

function page(title, body) {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escape(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><main><h1>${escape(title)}</h1>${body}</main></body></html>`;
}

function loginForm(uid, error = "") {
  return page(
    "NHSmail sign in",
    `${error ? `<p role="alert">${escape(error)}</p>` : ""}
<form method="post" action="/interaction/${uid}/login">
  <label>Email <input name="email" type="email" autocomplete="username"></label>
  <label>Password <input name="password" type="password" autocomplete="current-password"></label>
  <label><input name="mfa" type="checkbox" value="yes"> I confirmed with my authenticator app</label>
  <button type="submit">Sign in</button>
</form>`,
  );
}

async function readForm(req) {
  let raw = "";
  for await (const chunk of req) raw += chunk;
  const type = req.headers["content-type"] || "";
  if (type.startsWith("application/json")) return JSON.parse(raw || "{}");
  return Object.fromEntries(new URLSearchParams(raw));
}

function send(res, status, body, type = "text/html; charset=utf-8") {
  res.writeHead(status, { "content-type": type });
  res.end(body);
}

const callback = provider.callback();

const server = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, issuer);
    if (url.pathname === "/__test/id-token" && req.method === "POST") {
      tokenMode = (await readForm(req)).mode || "normal";
      return send(res, 200, JSON.stringify({ mode: tokenMode }), "application/json");
    }
    if (url.pathname === "/favicon.ico") return send(res, 204, "");
    if (url.pathname === "/__test/last-auth") {
      return send(res, 200, JSON.stringify(lastAuth), "application/json");
    }
    const match = url.pathname.match(/^\/interaction\/([^/]+)(\/login)?$/);
    if (match) {
      const details = await provider.interactionDetails(req, res);
      const { uid, prompt, params } = details;
      if (prompt.name === "consent") {
        // The organisation's own application: consent is given by the organisation.
        const grant = details.grantId
          ? await provider.Grant.find(details.grantId)
          : new provider.Grant({ accountId: details.session.accountId, clientId: params.client_id });
        grant.addOIDCScope(String(params.scope));
        const grantId = await grant.save();
        return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
      }
      if (!match[2]) return send(res, 200, loginForm(uid));
      const form = await readForm(req);
      const email = String(form.email || "").toLowerCase();
      const account = accounts[email];
      if (!account || account.password !== form.password) {
        return send(res, 200, loginForm(uid, "That email address or password is not right."));
      }
      const mfa = form.mfa === "yes";
      return provider.interactionFinished(
        req,
        res,
        { login: { accountId: subOf(email), amr: mfa ? ["pwd", "mfa"] : ["pwd"], acr: mfa ? "AAL2" : "AAL1" } },
        { mergeWithLastSubmission: false },
      );
    }
    return callback(req, res);
  } catch (err) {
    send(res, 500, page("Provider error", `<p>${escape(err.message)}</p>`));
  }
});

server.listen(port, "127.0.0.1", () => {
  process.stdout.write(`READY ${issuer}\n`);
});
for (const signal of ["SIGTERM", "SIGINT"]) process.on(signal, () => server.close(() => process.exit(0)));
