/**
 * Regenerates the README screenshots (docs/screenshots/*.png): starts the dev stack on free ports,
 * signs in to the example SPA in headless Chromium, and captures the hosted login page and the
 * signed-in SPA after an API call. Run: `node --experimental-strip-types scripts/dev-screenshots.ts`.
 */
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { callApi, launchChromium } from '../test/e2e/browser.ts'
import { freePort } from './dev-ports.ts'
import { REPO_ROOT } from './dev-spa.ts'
import { startDevStack } from './dev-stack.ts'

const out = join(REPO_ROOT, 'docs', 'screenshots')
await mkdir(out, { recursive: true })
const logs: string[] = []
const stack = await startDevStack({
  ports: {
    edge: await freePort(),
    origin: await freePort(),
    api: await freePort(),
    spa: await freePort(),
  },
  configDir: join(REPO_ROOT, '.dev', 'screenshots'),
  log: (source, line) => void logs.push(`${source} | ${line}`),
})
const browser = await launchChromium()
try {
  const page = await browser.newPage({
    viewport: { width: 960, height: 640 },
    deviceScaleFactor: 1,
  })
  page.setDefaultTimeout(15_000)
  await page.goto(`${stack.urls.spa}/`)
  await page.waitForSelector('#status[data-state="signed-out"]')
  await page.click('#sign-in')
  await page.waitForSelector('#username')
  await page.fill('#username', stack.demo.username)
  await page.screenshot({ path: join(out, 'login.png') })
  await page.fill('#password', stack.demo.password)
  await page.click('button[type=submit]')
  await page.waitForSelector('#status[data-state="signed-in"]')
  await callApi(page)
  await page.screenshot({ path: join(out, 'spa-signed-in.png'), fullPage: true })
  console.log(`screenshots written to ${out}`)
} catch (e) {
  console.error(logs.slice(-30).join('\n'))
  throw e
} finally {
  await browser.close()
  await stack.stop()
}
