// A real OpenID provider (oidc-provider) on loopback, for imlink's sign-in tests.
//
//   OIDC_PORT=39000 OIDC_REDIRECT_URIS=http://127.0.0.1:3000/auth/oidc/callback node server.mjs
//
// One confidential client, `imlink` / `imlink-test-secret` (client_secret_basic), with PKCE
// required. Accounts: the people below, and `load-N` (approvers, for load tests). A test signs
// in without a form by adding `login_hint=<account>` to the authorization request; without a
// known hint, the provider's own login form is shown (any password). Consent is implied.
// Prints "ready <issuer>" once listening.

import Provider from 'oidc-provider';

const port = Number(process.env.OIDC_PORT || 39000);
const issuer = `http://127.0.0.1:${port}`;
const list = (name) => (process.env[name] || '').split(',').map((s) => s.trim()).filter(Boolean);

const PEOPLE = {
  alice: { name: 'Alice Martin', groups: ['imlink-requesters', 'staff'] },
  bob: { name: 'Bob Chen', groups: ['imlink-approvers', 'staff'] },
  erin: { name: 'Erin Novak', groups: ['imlink-admins', 'imlink-approvers'] },
  carol: { name: 'Carol Diaz', groups: ['staff'] },
  mallory: { name: '<img src=x onerror=alert(1)> Mallory', groups: ['imlink-requesters'] },
};

function person(id) {
  if (Object.hasOwn(PEOPLE, id)) return PEOPLE[id];
  if (/^load-\d{1,4}$/.test(id)) return { name: `Load ${id.slice(5)}`, groups: ['imlink-approvers'] };
  return undefined;
}

const provider = new Provider(issuer, {
  clients: [{
    client_id: 'imlink',
    client_secret: 'imlink-test-secret',
    redirect_uris: list('OIDC_REDIRECT_URIS'),
    post_logout_redirect_uris: list('OIDC_POST_LOGOUT_URIS'),
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  pkce: { required: () => true },
  scopes: ['openid', 'profile', 'email', 'groups'],
  claims: {
    openid: ['sub'],
    profile: ['name', 'preferred_username'],
    email: ['email'],
    groups: ['groups'],
  },
  // The groups go into the ID token itself, as Entra ID, AD FS and Keycloak can be set to do.
  conformIdTokenClaims: false,
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
  },
  async findAccount(ctx, id) {
    const p = person(id);
    if (!p) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: id, preferred_username: id, name: p.name, email: `${id}@example.test`, groups: p.groups };
      },
    };
  },
  // The first-party client needs no consent screen.
  async loadExistingGrant(ctx) {
    const id = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (id) return ctx.oidc.provider.Grant.find(id);
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope('openid profile email groups');
    await grant.save();
    return grant;
  },
});

// Sign in without the form when the authorization request names a known account.
provider.use(async (ctx, next) => {
  if (ctx.method === 'GET' && ctx.path.startsWith('/interaction/')) {
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    const hint = details.params.login_hint;
    if (details.prompt.name === 'login' && hint && person(hint)) {
      await provider.interactionFinished(ctx.req, ctx.res, { login: { accountId: hint } }, { mergeWithLastSubmission: false });
      return;
    }
  }
  await next();
});

provider.listen(port, '127.0.0.1', () => console.log(`ready ${issuer}`));
