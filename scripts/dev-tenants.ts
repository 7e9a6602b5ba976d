/**
 * Two tenants for `npm run dev` besides the default issuer (docs/tenancy.md): `acme` and `globex`,
 * path-based on the origin (`<origin>/t/acme`), each with its own branding, demo user, SPA client
 * and API audience, published in the registry in L2 the way `gatehouse tenants add` does (an update
 * when the id is already there, as on a shared test Redis). The example SPA offers them in its tenant
 * picker.
 *
 * Every tenant's SPA client has the default issuer's SPA client id (`demo-spa`), as a deployment that
 * gives each customer the same app would: one client id at three issuers. The browser client keeps
 * its per-tab state per issuer and client id (src/client/tab-state.ts), so signing in to one never
 * disturbs another (test/e2e/tenancy-spa.test.ts).
 *
 * @example const tenants = await seedDevTenants({ store: upstash, origin, spaOrigin })
 */
import { createScryptHasher, type ScryptParameters } from '../src/entry/password.ts'
import { createUpstashStore } from '../src/store/upstash.ts'
import { createTenantRegistry } from '../src/tenancy/registry.ts'
import { DEMO_CLIENT_ID, DEMO_USER, demoSpaClient } from './dev-config.ts'

/** A seeded tenant, as the SPA and the tests see it. */
export interface DevTenant {
  id: string
  name: string
  issuer: string
  clientId: string
  /** The `aud` of its tokens (the edge verifies it for this tenant only). */
  audience: string
  username: string
  password: string
  /** The demo user's subject. */
  sub: string
}

const TENANTS = [
  { id: 'acme', name: 'Acme', accentColor: '#b45309' },
  { id: 'globex', name: 'Globex', accentColor: '#047857' },
] as const

/**
 * Adds (or updates) the dev tenants in the registry; resolves what each is.
 *
 * @example const [acme, globex] = await seedDevTenants({ store, origin: 'http://127.0.0.1:8788', spaOrigin })
 */
export async function seedDevTenants(options: {
  store: { url: string; token: string }
  /** The origin's URL (the default issuer): each tenant's issuer is `<origin>/t/<id>`. */
  origin: string
  spaOrigin: string
  scrypt?: ScryptParameters
}): Promise<DevTenant[]> {
  const registry = createTenantRegistry({ store: createUpstashStore(options.store) })
  const passwords = createScryptHasher(options.scrypt)
  const seeded: DevTenant[] = []
  for (const t of TENANTS) {
    const tenant: DevTenant = {
      id: t.id,
      name: t.name,
      issuer: `${options.origin}/t/${t.id}`,
      clientId: DEMO_CLIENT_ID,
      audience: `https://api.${t.id}.dev.test`,
      username: `${t.id}-demo`,
      // A published development credential, like the default demo user's.
      password: DEMO_USER.password,
      sub: `${t.id}-demo-user`,
    }
    const definition = {
      id: tenant.id,
      issuer: tenant.issuer,
      audiences: [tenant.audience],
      oauth: {
        branding: { name: t.name, accentColor: t.accentColor },
        tokens: { accessTokenTtlSeconds: 300 },
        clients: [
          demoSpaClient({
            id: tenant.clientId,
            name: `${t.name} demo SPA`,
            spaOrigin: options.spaOrigin,
            audience: tenant.audience,
          }),
        ],
        users: [
          {
            sub: tenant.sub,
            username: tenant.username,
            passwordHash: await passwords.hash(tenant.password),
            claims: {
              name: `${t.name} Demo`,
              preferred_username: tenant.username,
              email: `demo@${t.id}.dev.test`,
              email_verified: true,
            },
          },
        ],
      },
    }
    if (await registry.get(tenant.id)) await registry.update(definition)
    else await registry.add(definition)
    seeded.push(tenant)
  }
  return seeded
}
