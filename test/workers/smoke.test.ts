import { exports } from 'cloudflare:workers'
import { expect, it } from 'vitest'

it('runs inside workerd', async () => {
  const res = await exports.default.fetch('http://x/healthz')
  expect(await res.text()).toBe('ok')
  expect(typeof navigator.userAgent).toBe('string')
})
