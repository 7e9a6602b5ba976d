/**
 * The origin follows the tenant registry once: its routing and its own `/verify` listen to one
 * follower (in-process, memory store, fake clock). A tenant removed in L2 leaves both at the same
 * sync, and the change stream is read once per sync, not once per consumer.
 */
import { describe, expect, it } from 'vitest'
import { hashClientSecret } from '../../../src/core/oauth/clients.ts'
import { ownKeySet } from '../../../src/core/oauth/own-tokens.ts'
import { loadNodeConfig } from '../../../src/entry/node-config.ts'
import { createOriginTenancy } from '../../../src/entry/origin-tenancy.ts'
import { createOriginRoutes } from '../../../src/entry/origin.ts'
import { createApp } from '../../../src/http/app.ts'
import { silentLogger } from '../../../src/http/log.ts'
import { createMemoryStore } from '../../../src/store/memory.ts'
import type { Store } from '../../../src/store/types.ts'
import { registryKeys } from '../../../src/tenancy/registry-keys.ts'
import { ISSUER, testConfig, testPasswords } from '../oauth/support.ts'

const SECRET = 'acme-secret-0123456789abcdefghijklmnop'

/** The memory store, counting the reads of the registry's change stream. */
function countingStore() {
  const store = createMemoryStore()
  const reads = { first: 0, pages: 0 }
  const counted: Store = {
    ...store,
    lastStreamEntry: async (stream) => {
      if (stream === registryKeys.changes) reads.first++
      return store.lastStreamEntry(stream)
    },
    readStream: async (stream, after, count) => {
      if (stream === registryKeys.changes) reads.pages++
      return store.readStream(stream, after, count)
    },
  }
  return { store: counted, reads }
}

describe('the origin follows the tenant registry once', () => {
  it("a tenant removed leaves the origin's routing and its /verify at the same sync, from one read of the change stream", async () => {
    let t = 1_900_000_000_000
    const clock = () => t
    const { store, reads } = countingStore()
    const config = await testConfig()
    const nodeConfig = await loadNodeConfig(
      {
        GATEHOUSE_CONFIG: '/config.json',
        GATEHOUSE_TENANCY: 'true',
        GATEHOUSE_AUDIENCE: 'https://api.test',
      },
      { readFile: async () => JSON.stringify(config), storeProvided: true },
    )
    const origin = await createOriginRoutes(nodeConfig, {
      store,
      passwords: testPasswords,
      logger: silentLogger,
      clock,
    })
    const tenancy = await createOriginTenancy(nodeConfig, origin, {
      logger: silentLogger,
      passwords: testPasswords,
      clock,
    })
    const verifier = await tenancy.verifier!(ownKeySet(origin.keys))
    const app = createApp({
      role: 'origin',
      logger: silentLogger,
      now: clock,
      middleware: [tenancy.middleware],
      routes: [{ path: '/', app: origin.routes }],
    })
    await tenancy.registry.add({
      id: 'acme',
      issuer: `${ISSUER}/t/acme`,
      audiences: ['https://api.acme.test'],
      oauth: {
        clients: [
          {
            id: 'svc',
            type: 'confidential',
            secretHash: await hashClientSecret(SECRET),
            grantTypes: ['client_credentials'],
            scopes: ['read'],
            audiences: ['https://api.acme.test'],
          },
        ],
      },
    })
    const discovery = () => app.request(`${ISSUER}/t/acme/.well-known/openid-configuration`)
    expect((await discovery()).status).toBe(200)
    const minted = await app.request(`${ISSUER}/t/acme/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${btoa(`svc:${SECRET}`)}`,
      },
      body: 'grant_type=client_credentials',
    })
    const token = ((await minted.json()) as { access_token: string }).access_token
    expect(await verifier.verify(token)).toMatchObject({
      tenant: 'acme',
      claims: { iss: `${ISSUER}/t/acme` },
    })
    // Routing and /verify both started following: one follower, so one first read.
    expect(reads.first).toBe(1)

    await tenancy.registry.remove('acme')
    t += 10_000 // past the bound: the next request syncs first
    const pagesBefore = reads.pages
    await expect(verifier.verify(token)).rejects.toMatchObject({ status: 401 })
    expect((await discovery()).status).toBe(404)
    // One sync applied the removal for both consumers.
    expect(reads.pages - pagesBefore).toBe(1)
    expect(reads.first).toBe(1)
  })
})
