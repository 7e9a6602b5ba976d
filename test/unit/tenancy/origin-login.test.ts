/**
 * Signing in to a tenant at the origin, in-process (memory store, fast scrypt): each tenant's hosted
 * login shows its branding and accepts only its own users; a custom-host tenant is found by Host.
 */
import * as oauth from 'oauth4webapi'
import { beforeAll, describe, expect, it } from 'vitest'
import { loadNodeConfig } from '../../../src/entry/node-config.ts'
import { createOriginTenancy } from '../../../src/entry/origin-tenancy.ts'
import { createOriginRoutes } from '../../../src/entry/origin.ts'
import { createApp } from '../../../src/http/app.ts'
import { silentLogger } from '../../../src/http/log.ts'
import { createMemoryStore } from '../../../src/store/memory.ts'
import type { TenantRegistry } from '../../../src/tenancy/registry.ts'
import { Browser, ISSUER, testConfig, testPasswords } from '../oauth/support.ts'

const REDIRECT = 'https://app.acme.test/callback'
let app: ReturnType<typeof createApp>
let registry: TenantRegistry
const fetchApp = (input: string | URL | Request, init?: object) =>
  Promise.resolve(app.request(new Request(input, init as RequestInit | undefined)))

async function tenant(
  id: string,
  name: string,
  issuer = `${ISSUER}/t/${id}`,
  hosts: string[] = [],
) {
  return {
    id,
    issuer,
    hosts,
    audiences: [`https://api.${id}.test`],
    oauth: {
      branding: { name, accentColor: '#aa3300' },
      clients: [
        {
          id: 'spa',
          type: 'public',
          redirectUris: [REDIRECT],
          grantTypes: ['authorization_code'],
          scopes: ['openid'],
          audiences: [`https://api.${id}.test`],
        },
      ],
      users: [
        {
          sub: `${id}-user`,
          username: `${id}-user`,
          passwordHash: await testPasswords.hash(`${id} password`),
        },
      ],
    },
  }
}

beforeAll(async () => {
  const store = createMemoryStore()
  const config = await testConfig()
  const nodeConfig = await loadNodeConfig(
    { GATEHOUSE_CONFIG: '/config.json', GATEHOUSE_TENANCY: 'true' },
    { readFile: async () => JSON.stringify(config), storeProvided: true },
  )
  const origin = await createOriginRoutes(nodeConfig, {
    store,
    passwords: testPasswords,
    logger: silentLogger,
  })
  const tenancy = await createOriginTenancy(nodeConfig, origin, {
    logger: silentLogger,
    passwords: testPasswords,
  })
  registry = tenancy.registry
  await registry.add(await tenant('acme', 'Acme Corp'))
  await registry.add(
    await tenant('globex', 'Globex', 'https://auth.globex.test', ['auth.globex.test']),
  )
  app = createApp({
    role: 'origin',
    logger: silentLogger,
    middleware: [tenancy.middleware],
    routes: [{ path: '/', app: origin.routes }],
  })
})

async function loginPage(browser: Browser, issuer: string, headers: Record<string, string> = {}) {
  const url = new URL(`${issuer}/authorize`)
  url.search = new URLSearchParams({
    client_id: 'spa',
    redirect_uri: REDIRECT,
    response_type: 'code',
    scope: 'openid',
    state: 'st',
    code_challenge: await oauth.calculatePKCECodeChallenge(oauth.generateRandomCodeVerifier()),
    code_challenge_method: 'S256',
  }).toString()
  return browser.request(url.href, { headers })
}

describe('signing in to a tenant', () => {
  it("shows the tenant's branding and accepts only the tenant's own users", async () => {
    const browser = new Browser(fetchApp)
    const page = await loginPage(browser, `${ISSUER}/t/acme`)
    expect(page.status).toBe(200)
    const html = await page.text()
    expect(html).toContain('<title>Sign in to Acme Corp</title>')
    expect(html).toContain('button{background:#aa3300}')
    expect(html).toContain(`action="${ISSUER}/t/acme/login"`)
    const refused = await browser.submitLogin(html, 'globex-user', 'globex password')
    expect(refused.status).toBe(400)
    const retry = await refused.text()
    const accepted = await browser.submitLogin(retry, 'acme-user', 'acme password')
    expect(accepted.status).toBe(303)
    const location = new URL(accepted.headers.get('location')!)
    expect(location.origin + location.pathname).toBe(REDIRECT)
    expect(location.searchParams.get('iss')).toBe(`${ISSUER}/t/acme`)
  })

  it('finds a custom-host tenant by its Host and serves its issuer', async () => {
    const discovery = await fetchApp('https://auth.globex.test/.well-known/openid-configuration', {
      headers: { host: 'auth.globex.test' },
    })
    expect(discovery.status).toBe(200)
    const document = (await discovery.json()) as Record<string, string>
    expect(document.issuer).toBe('https://auth.globex.test')
    expect(document.authorization_endpoint).toBe('https://auth.globex.test/authorize')
    const page = await loginPage(new Browser(fetchApp), 'https://auth.globex.test', {
      host: 'auth.globex.test',
    })
    expect(await page.text()).toContain('<title>Sign in to Globex</title>')
  })

  it("the default tenant's login is unchanged beside the tenants", async () => {
    const response = await fetchApp(`${ISSUER}/.well-known/openid-configuration`)
    expect(((await response.json()) as Record<string, string>).issuer).toBe(ISSUER)
  })
})
