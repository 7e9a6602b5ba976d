/**
 * Headless Chromium for the end-to-end tests: the Debian build at /usr/bin/chromium driven by
 * playwright-core (no downloaded browsers). `chromium.launch` runs on a fresh temporary profile
 * (user-data-dir) each time, and every test opens its own context (cookies, storage).
 */
import { chromium, type Browser, type Page } from 'playwright-core'

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
    ],
  })
}

/** Signs in through the hosted login page from the SPA's start page and waits to be back. */
export async function signIn(
  page: Page,
  spaUrl: string,
  credentials: { username: string; password: string },
): Promise<void> {
  await page.goto(`${spaUrl}/`)
  await page.waitForSelector('#status[data-state="signed-out"]')
  await page.click('#sign-in')
  await page.waitForSelector('#username')
  await page.fill('#username', credentials.username)
  await page.fill('#password', credentials.password)
  await page.click('button[type=submit]')
  await page.waitForSelector('#status[data-state="signed-in"]')
}

/** Clicks an API button ("Call the API" by default) and returns the HTTP status and body shown. */
export async function callApi(
  page: Page,
  button = '#call-api',
): Promise<{ status: string; body: string }> {
  // Cleared first, so a second call waits for its own answer.
  await page.evaluate(() => delete document.getElementById('api-status')?.dataset.status)
  await page.click(button)
  await page.waitForSelector('#api-status[data-status]')
  return {
    status: (await page.getAttribute('#api-status', 'data-status')) ?? '',
    body: (await page.textContent('#api-result')) ?? '',
  }
}

export const expiresAt = (page: Page): Promise<string | null> =>
  page.getAttribute('#expires', 'data-expires-at')
