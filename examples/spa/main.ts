/**
 * The example SPA: sign in on the hosted Gatehouse page, show who is signed in, call a protected API
 * through the edge gateway (a route without policy, one a Cedar policy allows, one it denies),
 * refresh, sign out. Plain TypeScript and DOM; everything the page shows is
 * set with `textContent`, never as HTML.
 *
 * The stack's URLs come from `/config.json`, served next to this bundle (scripts/dev-spa.ts). When it
 * lists `tenants`, a picker chooses the issuer to sign in to (the default issuer or a tenant's,
 * docs/tenancy.md); the choice is kept in sessionStorage so it survives the login redirect.
 */
import { createGatehouseClient, type AuthState } from '@gatehouse/auth/client'

interface SpaConfig {
  issuer: string
  clientId: string
  redirectUri: string
  postLogoutRedirectUri: string
  apiUrl: string
  /** DPoP-bound tokens (the default when the issuer supports them); false for bearer tokens. */
  dpop?: boolean
  /** Issuers to choose from; the first is the default choice. */
  tenants?: SpaTenant[]
}

interface SpaTenant {
  id: string
  name: string
  issuer: string
  clientId: string
}

const TENANT_KEY = 'gatehouse-demo:tenant'

const byId = <T extends HTMLElement>(id: string): T => {
  const element = document.getElementById(id)
  if (!element) throw new Error(`missing #${id}`)
  return element as T
}

const status = byId('status')
const signedOut = byId('signed-out')
const signedIn = byId('signed-in')
const errorBox = byId('error')
const apiResult = byId('api-result')
const apiStatus = byId('api-status')

function showError(message: string | undefined): void {
  errorBox.textContent = message ?? ''
  errorBox.hidden = message === undefined
}

function render(state: AuthState): void {
  status.dataset.state = state.status
  signedOut.hidden = state.status !== 'signed-out'
  signedIn.hidden = state.status !== 'signed-in'
  if (state.status === 'signed-in') {
    const { user } = state
    status.textContent = `Signed in as ${user.preferredUsername ?? user.sub}`
    byId('user-name').textContent = user.name ?? user.preferredUsername ?? user.sub
    byId('user-sub').textContent = user.sub
    byId('user-email').textContent = user.email ?? '—'
    const expires = byId('expires')
    expires.textContent = new Date(state.expiresAt).toLocaleTimeString()
    expires.dataset.expiresAt = String(state.expiresAt)
  } else if (state.status === 'signed-out') {
    status.textContent = 'Signed out'
    showError(state.error?.message)
  } else {
    status.textContent = state.status === 'redirecting' ? 'Redirecting…' : 'Loading…'
  }
}

const config = (await (await fetch('/config.json')).json()) as SpaConfig
const tenants = config.tenants ?? []
const tenant = tenants.find((t) => t.id === sessionStorage.getItem(TENANT_KEY)) ?? tenants[0]
const issuer = tenant?.issuer ?? config.issuer
showTenants(tenants, tenant)
byId('issuer').textContent = issuer
byId('tenant-name').textContent = tenant?.name ?? '—'
const auth = createGatehouseClient({
  issuer,
  clientId: tenant?.clientId ?? config.clientId,
  redirectUri: config.redirectUri,
  postLogoutRedirectUri: config.postLogoutRedirectUri,
  ...(config.dpop === undefined ? {} : { dpop: config.dpop }),
})
auth.subscribe(render)

/** The tenant picker: choosing another issuer reloads the page signed in to none. */
function showTenants(all: SpaTenant[], chosen: SpaTenant | undefined): void {
  const picker = byId<HTMLSelectElement>('tenant')
  byId('tenant-picker').hidden = all.length < 2
  for (const t of all) {
    const option = document.createElement('option')
    option.value = t.id
    option.textContent = t.name
    option.selected = t.id === chosen?.id
    picker.append(option)
  }
  picker.addEventListener('change', () => {
    sessionStorage.setItem(TENANT_KEY, picker.value)
    location.assign('/')
  })
}

byId('sign-in').addEventListener('click', () => {
  showError(undefined)
  auth.login({ returnTo: '/' }).catch((e: unknown) => showError(String((e as Error).message)))
})

/** Calls the API through the edge gateway and shows the status and body. */
async function callApi(path: string): Promise<void> {
  showError(undefined)
  apiStatus.textContent = '…'
  delete apiStatus.dataset.status
  try {
    const response = await auth.fetch(`${config.apiUrl}${path}`)
    const text = await response.text()
    try {
      apiResult.textContent = JSON.stringify(JSON.parse(text), null, 2)
    } catch {
      apiResult.textContent = text
    }
    apiStatus.textContent = `(${response.status})`
    apiStatus.dataset.status = String(response.status)
  } catch (e) {
    apiStatus.textContent = '(failed)'
    apiStatus.dataset.status = 'failed'
    showError((e as Error).message)
  }
}

// Each API button names its path; the edge's Cedar policies (examples/policies/) let every signed-in
// user read a document and only admins on a private network open the report.
for (const button of document.querySelectorAll<HTMLButtonElement>('button[data-api-path]')) {
  button.addEventListener('click', () => void callApi(button.dataset.apiPath ?? '/'))
}

byId('refresh').addEventListener('click', async () => {
  showError(undefined)
  try {
    await auth.refresh()
  } catch (e) {
    showError((e as Error).message)
  }
})

byId('sign-out').addEventListener('click', () => {
  auth.logout().catch((e: unknown) => showError((e as Error).message))
})

render(auth.state)
await auth.start(location.href)
