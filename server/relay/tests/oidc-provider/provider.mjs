// A real OpenID Connect provider (panva/oidc-provider) for the relay's sign-in tests.
//
// Listens on 127.0.0.1, port 0, and prints its issuer URL as the first line on stdout.
// Environment:
//   RELAY_REDIRECT_URIS  comma-separated redirect URIs of the relay's confidential client
//   NATIVE_REDIRECT_URI  redirect URI of the two native public clients (default http://127.0.0.1/native)
//   ID_TOKEN_TTL         ID token lifetime in seconds (default 600)
//   EXIT_WITH_STDIN      0: keep running when stdin closes (default: exit with it)
//
// Clients:
//   relay   confidential (client_secret_basic, secret "relay-secret"), application_type native
//           so loopback redirects may use any port (RFC 8252 §7.3), PKCE required
//   native  public (token_endpoint_auth_method none): the app whose ID tokens the relay accepts
//   other   public: an app the relay does not know (its ID tokens have the wrong audience)
//
// There is no login page: the interaction route signs in the user named by the authorization
// request's `login_hint` at once and grants what was asked, so a test client following
// `Location` headers by hand (keeping cookies) is the browser. A login_hint is
// `sub=<id>&email=<address>&email_verified=<true|false>` (URL-encoded as a whole); findAccount
// returns {sub, email, email_verified} for it.
//
// Test controls (not part of any OpenID API):
//   POST /test/rotate  switch to a new signing key (the old one stays published second)
//   GET  /test/stats   {"discovery": n, "jwks": n, "token": n} requests served so far

import http from 'node:http';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import Provider from 'oidc-provider';

const accounts = new Map();
const stats = { discovery: 0, jwks: 0, token: 0 };
const idTokenTtl = Number(process.env.ID_TOKEN_TTL || 600);
const relayRedirects = (process.env.RELAY_REDIRECT_URIS || 'http://127.0.0.1/callback')
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean);
const nativeRedirect = process.env.NATIVE_REDIRECT_URI || 'http://127.0.0.1/native';

function newKey(kid) {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid, use: 'sig', alg: 'RS256' };
}

let keys = [newKey('key-1')];
const cookieKeys = [randomBytes(32).toString('hex')];

function configuration() {
  return {
    clients: [
      {
        client_id: 'relay',
        client_secret: 'relay-secret',
        application_type: 'native',
        token_endpoint_auth_method: 'client_secret_basic',
        grant_types: ['authorization_code'],
        response_types: ['code'],
        redirect_uris: relayRedirects,
      },
      {
        client_id: 'native',
        application_type: 'native',
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code'],
        response_types: ['code'],
        redirect_uris: [nativeRedirect],
      },
      {
        client_id: 'other',
        application_type: 'native',
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code'],
        response_types: ['code'],
        redirect_uris: [nativeRedirect],
      },
    ],
    jwks: { keys },
    cookies: { keys: cookieKeys },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: [] },
    // Put the scope's claims into the ID token (as Google and Apple do), not only into userinfo.
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    ttl: { IdToken: idTokenTtl },
    features: { devInteractions: { enabled: false } },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    async findAccount(ctx, sub) {
      const account = accounts.get(sub);
      if (!account) return undefined;
      return {
        accountId: sub,
        async claims() {
          return { sub, email: account.email, email_verified: account.email_verified };
        },
      };
    },
  };
}

let issuer;
let provider;
let handler;

// A provider instance for the current keys. Grants, sessions and codes live in oidc-provider's
// module-level memory adapter, so they survive the swap on /test/rotate.
function makeProvider() {
  const p = new Provider(issuer, configuration());
  p.on('server_error', (ctx, err) => console.error('server_error', err));
  handler = p.callback();
  return p;
}

async function interaction(req, res) {
  const details = await provider.interactionDetails(req, res);
  const { prompt, params } = details;
  if (prompt.name === 'login') {
    const hint = new URLSearchParams(params.login_hint || '');
    const sub = hint.get('sub');
    if (!sub) {
      await provider.interactionFinished(req, res, {
        error: 'access_denied',
        error_description: 'the test browser sent no login_hint',
      });
      return;
    }
    accounts.set(sub, {
      email: hint.get('email') || undefined,
      email_verified: hint.get('email_verified') === 'true',
    });
    await provider.interactionFinished(req, res, { login: { accountId: sub } }, {
      mergeWithLastSubmission: false,
    });
    return;
  }
  // consent: grant what was asked.
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: details.session.accountId, clientId: params.client_id });
  const missing = prompt.details;
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  if (missing.missingResourceScopes) {
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes)) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
  }
  const grantId = await grant.save();
  await provider.interactionFinished(req, res, { consent: { grantId } }, {
    mergeWithLastSubmission: true,
  });
}

const server = http.createServer(async (req, res) => {
  try {
    const path = new URL(req.url, issuer).pathname;
    if (path.startsWith('/interaction/')) {
      await interaction(req, res);
      return;
    }
    if (path === '/test/rotate' && req.method === 'POST') {
      // The new key signs from now on; the old one stays published (second) for a while.
      keys = [newKey(`key-${keys.length + 1}`), ...keys];
      provider = makeProvider();
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kid: keys[0].kid }));
      return;
    }
    if (path === '/test/stats') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(stats));
      return;
    }
    if (path === '/.well-known/openid-configuration') stats.discovery += 1;
    if (path === '/jwks') stats.jwks += 1;
    if (path === '/token') stats.token += 1;
    handler(req, res);
  } catch (err) {
    console.error(err);
    if (!res.headersSent) {
      res.writeHead(500, { 'content-type': 'text/plain' });
    }
    res.end(String(err));
  }
});

server.listen(0, '127.0.0.1', () => {
  issuer = `http://127.0.0.1:${server.address().port}`;
  provider = makeProvider();
  // The first stdout line is the issuer; tests read it to configure the relay.
  process.stdout.write(`${issuer}\n`);
});

// Exit with the parent: tests kill the process on drop, and a closed stdin also ends it
// (unless EXIT_WITH_STDIN=0, for scripts that start it in the background and kill it by pid).
if (process.env.EXIT_WITH_STDIN !== '0') {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
}
