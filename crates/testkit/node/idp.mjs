// A development OpenID Provider for Porthole's tests and `make demo`.
//
// It wraps `oidc-provider` (a certified OpenID Provider) with:
// - one confidential client, `porthole-gateway` (client_secret_basic), and a twin
//   `porthole-gateway-post` (client_secret_post), both accepting ANY redirect URI of the form
//   `https://127.0.0.1:<port>/oauth2/callback` or `https://localhost:<port>/oauth2/callback`,
//   because the gateway under test picks its port at run time;
// - PKCE (S256) required for every authorization request;
// - three fixed accounts whose password is `password`;
// - its own tiny interaction handler: a plain HTML form (`login`, `password`) and automatic
//   consent, so a browser or an HTTP client only has to submit one form.
//
// Usage: `node crates/testkit/node/idp.mjs [--port N] [--ignore-stdin]`. It listens on 127.0.0.1 (port 0 unless
// given), then prints one JSON line `{"issuer":"http://127.0.0.1:PORT"}` on stdout. It exits when
// its stdin closes (so a test that dies does not leave it behind; `--ignore-stdin` turns that off
// for a background service), on SIGTERM and on SIGINT.

import crypto from 'node:crypto';
import http from 'node:http';
import process from 'node:process';

import Provider from 'oidc-provider';

export const CLIENT_ID = 'porthole-gateway';
export const CLIENT_ID_POST = 'porthole-gateway-post';
export const CLIENT_SECRET = 'porthole-gateway-secret';
export const PASSWORD = 'password';

/** The accounts, keyed by login (their email). `sub` is the stable short id. */
export const ACCOUNTS = {
  'alice@example.com': {
    sub: 'alice', name: 'Alice Admin', groups: ['admins', 'dev'], department: 'eng',
  },
  'bob@example.com': {
    sub: 'bob', name: 'Bob Builder', groups: ['dev'], department: 'sales',
  },
  'carol@other.org': {
    sub: 'carol', name: 'Carol Outsider', groups: [], department: 'eng',
  },
};

const CALLBACK = /^https:\/\/(127\.0\.0\.1|localhost):\d{1,5}\/oauth2\/callback$/;

function accountBySub(sub) {
  return Object.entries(ACCOUNTS).find(([, a]) => a.sub === sub);
}

function parseArgs(argv) {
  const i = argv.indexOf('--port');
  return {
    port: i >= 0 ? Number(argv[i + 1]) : 0,
    watchStdin: !argv.includes('--ignore-stdin'),
  };
}

function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function loginPage(uid, clientId, error) {
  const err = error ? `<p class="error">${escapeHtml(error)}</p>` : '';
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>Porthole test IdP: sign in</title></head>
<body>
<h1>Sign in</h1>
<p>Client: ${escapeHtml(clientId)}</p>
${err}
<form method="post" action="/interaction/${escapeHtml(uid)}/login">
  <label>Email <input type="text" name="login" autofocus></label>
  <label>Password <input type="password" name="password"></label>
  <button type="submit">Sign in</button>
</form>
</body></html>
`;
}

async function readForm(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 64 * 1024) throw new Error('form too large');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

/** Grant everything the authorization request asked for, so there is no consent screen. */
async function grantAll(provider, details, accountId) {
  const { params } = details;
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId, clientId: params.client_id });
  if (params.scope) grant.addOIDCScope(params.scope);
  if (params.claims) {
    const requested = JSON.parse(params.claims);
    const names = new Set([
      ...Object.keys(requested.id_token ?? {}),
      ...Object.keys(requested.userinfo ?? {}),
    ]);
    grant.addOIDCClaims([...names]);
  }
  return grant.save();
}

async function handleInteraction(provider, req, res, url) {
  const parts = url.pathname.split('/').filter(Boolean); // ['interaction', uid, ('login')?]
  const details = await provider.interactionDetails(req, res);
  const { uid, prompt, params, session } = details;
  if (parts[1] !== uid) {
    res.writeHead(400, { 'content-type': 'text/plain' }).end('interaction does not match its cookie');
    return;
  }

  if (req.method === 'GET' && parts.length === 2) {
    if (prompt.name === 'login') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
        .end(loginPage(uid, params.client_id));
      return;
    }
    // Already signed in: only consent is missing. Grant it and carry on.
    const grantId = await grantAll(provider, details, session.accountId);
    await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
    return;
  }

  if (req.method === 'POST' && parts[2] === 'login') {
    const form = await readForm(req);
    const login = (form.get('login') ?? '').trim().toLowerCase();
    const account = ACCOUNTS[login];
    if (!account || form.get('password') !== PASSWORD) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
        .end(loginPage(uid, params.client_id, 'Invalid email or password.'));
      return;
    }
    const grantId = await grantAll(provider, details, account.sub);
    await provider.interactionFinished(req, res, {
      login: { accountId: account.sub },
      consent: { grantId },
    }, { mergeWithLastSubmission: false });
    return;
  }

  res.writeHead(405, { 'content-type': 'text/plain' }).end('method not allowed');
}

function makeProvider(issuer) {
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'porthole-test', use: 'sig', alg: 'RS256' };
  const client = {
    client_secret: CLIENT_SECRET,
    grant_types: ['authorization_code'],
    response_types: ['code'],
    redirect_uris: ['https://127.0.0.1:1/oauth2/callback'],
  };

  const provider = new Provider(issuer, {
    clients: [
      { ...client, client_id: CLIENT_ID, token_endpoint_auth_method: 'client_secret_basic' },
      { ...client, client_id: CLIENT_ID_POST, token_endpoint_auth_method: 'client_secret_post' },
    ],
    jwks: { keys: [jwk] },
    cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      groups: ['groups'],
      profile: ['department', 'name'],
    },
    scopes: ['openid', 'profile', 'email', 'groups'],
    conformIdTokenClaims: false,
    ttl: {
      AccessToken: 3600,
      AuthorizationCode: 600,
      IdToken: 3600,
      Interaction: 3600,
      Grant: 14 * 24 * 3600,
      Session: 14 * 24 * 3600,
    },
    pkce: { required: () => true },
    features: { devInteractions: { enabled: false } },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    async findAccount(_ctx, sub) {
      const found = accountBySub(sub);
      if (!found) return undefined;
      const [email, account] = found;
      return {
        accountId: sub,
        async claims() {
          return {
            sub,
            email,
            email_verified: true,
            name: account.name,
            groups: account.groups,
            department: account.department,
          };
        },
      };
    },
    renderError(ctx, out) {
      ctx.type = 'text/plain; charset=utf-8';
      ctx.body = Object.entries(out).map(([k, v]) => `${k}: ${v}`).join('\n');
    },
  });

  // A dev IdP for tests: the gateway's callback port is chosen at run time, so any loopback
  // `/oauth2/callback` over https is a registered redirect URI.
  provider.Client.prototype.redirectUriAllowed = function redirectUriAllowed(value) {
    return typeof value === 'string' && CALLBACK.test(value);
  };
  return provider;
}

async function main() {
  // stdout carries exactly one line, the issuer: everything oidc-provider logs goes to stderr.
  for (const level of ['log', 'info', 'debug']) {
    console[level] = (...args) => console.error(...args);
  }
  process.stdout.on('error', () => {});
  const { port, watchStdin } = parseArgs(process.argv.slice(2));
  let provider;
  let callback;
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    if (url.pathname.startsWith('/interaction/')) {
      handleInteraction(provider, req, res, url).catch((err) => {
        if (!res.headersSent) {
          res.writeHead(400, { 'content-type': 'text/plain' });
        }
        res.end(`interaction failed: ${err.message}\n`);
      });
      return;
    }
    callback(req, res);
  });

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const issuer = `http://127.0.0.1:${server.address().port}`;
  provider = makeProvider(issuer);
  callback = provider.callback();

  const stop = () => {
    server.close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  if (watchStdin) {
    process.stdin.on('end', stop);
    process.stdin.on('close', stop);
    process.stdin.resume();
  }

  process.stdout.write(`${JSON.stringify({ issuer })}\n`);
}

main().catch((err) => {
  process.stderr.write(`idp: ${err.stack ?? err}\n`);
  process.exit(1);
});
