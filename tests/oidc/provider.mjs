// A real OpenID provider (oidc-provider, MIT) on loopback for spinemets' single sign-on tests.
// Usage: node provider.mjs <port> <redirect_uri> <client_secret>
// Prints "ready <issuer>" once it listens. Test accounts (any password works: the provider's
// development login form) and their group claims:
//   surgeon        -> roles ["spine-surgeons"]          (mapped to spinemets' clinician)
//   coordinator2   -> roles ["mdt-office", "canteen"]   (mapped to coordinator)
//   disabled-doc   -> roles ["spine-surgeons"]          (disabled in spinemets by the test)
//   visitor        -> roles ["canteen"]                 (no spinemets role: refused)
//   clinician      -> roles ["spine-surgeons"]          (a local account has that name)
import Provider from 'oidc-provider';

const [port, redirectUri, clientSecret] = process.argv.slice(2);
const issuer = `http://127.0.0.1:${port}`;
const ROLES = {
  surgeon: ['spine-surgeons'],
  coordinator2: ['mdt-office', 'canteen'],
  'disabled-doc': ['spine-surgeons'],
  visitor: ['canteen'],
  clinician: ['spine-surgeons'],
};

const provider = new Provider(issuer, {
  clients: [{
    client_id: 'spinemets',
    client_secret: clientSecret,
    redirect_uris: [redirectUri],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  pkce: { required: () => true },
  claims: { openid: ['sub'], profile: ['name', 'preferred_username'], roles: ['roles'] },
  scopes: ['openid', 'profile', 'roles'],
  conformIdTokenClaims: false, // the claims go into the ID token, as most hospital IdPs do
  cookies: { keys: ['spinemets-test-provider-cookie-key'] },
  features: { devInteractions: { enabled: true } },
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return { sub: id, preferred_username: id, name: `Test ${id}`, roles: ROLES[id] ?? [] };
      },
    };
  },
});
provider.proxy = false;
const server = provider.listen(Number(port), '127.0.0.1', () => {
  console.log(`ready ${issuer}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
