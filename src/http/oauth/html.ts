/**
 * Server-rendered pages of the hosted login: the sign-in form, the error page for requests that must
 * not be redirected, and the signed-out page. Every reflected value goes through `escapeHtml`; pages
 * carry a strict CSP (no script at all, styles by nonce, `frame-ancestors 'none'` and
 * `X-Frame-Options: DENY` against clickjacking, `form-action` limited to us and the client we will
 * redirect to) and are never cached.
 *
 * @example return htmlResponse(loginPage({ action, csrfToken, clientName }), 200, { formTarget })
 */
const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
  '`': '&#96;',
}

/** Escapes text for HTML element content and quoted attribute values. */
export const escapeHtml = (value: string): string =>
  value.replace(/[&<>"'`]/g, (ch) => ESCAPES[ch] ?? ch)

const STYLE = `body{font:16px/1.5 system-ui,sans-serif;background:#f5f5f7;color:#111;margin:0}
main{max-width:22rem;margin:10vh auto;background:#fff;padding:2rem;border-radius:12px;box-shadow:0 1px 4px #0002}
h1{font-size:1.3rem;margin:0 0 1rem}label{display:block;margin:.75rem 0 .25rem}
input{width:100%;box-sizing:border-box;padding:.5rem;font:inherit;border:1px solid #bbb;border-radius:6px}
button{margin-top:1.25rem;width:100%;padding:.6rem;font:inherit;border:0;border-radius:6px;background:#1d4ed8;color:#fff}
.error{color:#b91c1c;margin:.5rem 0}.muted{color:#555;font-size:.9rem}`

interface Page {
  title: string
  body: string
  /** Extra CSS from checked values only (a `#rrggbb` accent colour). */
  style?: string
}

/** The login page's branding (the config's `branding`, per tenant). */
export interface Branding {
  name?: string | undefined
  /** `#rrggbb`, checked by the config schema. */
  accentColor?: string | undefined
}

function layout(page: Page, nonce: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="referrer" content="no-referrer"><title>${escapeHtml(page.title)}</title>
<style nonce="${nonce}">${STYLE}${page.style ?? ''}</style></head>
<body><main>${page.body}</main></body></html>`
}

export function loginPage(input: {
  action: string
  csrfToken: string
  clientName: string
  username?: string | undefined
  error?: string | undefined
  branding?: Branding
}): Page {
  const error = input.error ? `<p class="error" role="alert">${escapeHtml(input.error)}</p>` : ''
  const title = input.branding?.name ? `Sign in to ${input.branding.name}` : 'Sign in'
  const accent = input.branding?.accentColor
  return {
    title,
    // The accent is a checked #rrggbb (config.ts); nothing else reaches the stylesheet.
    ...(accent && /^#[0-9a-fA-F]{6}$/.test(accent)
      ? { style: `button{background:${accent}}` }
      : {}),
    body: `<h1>${escapeHtml(title)}</h1><p class="muted">to continue to ${escapeHtml(input.clientName)}</p>${error}
<form method="post" action="${escapeHtml(input.action)}">
<input type="hidden" name="csrf_token" value="${escapeHtml(input.csrfToken)}">
<label for="username">Username</label>
<input id="username" name="username" autocomplete="username" required maxlength="128" value="${escapeHtml(input.username ?? '')}" autofocus>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required maxlength="1024">
<button type="submit">Sign in</button>
</form>`,
  }
}

export function errorPage(description: string): Page {
  return {
    title: 'Request refused',
    body: `<h1>This request cannot be completed</h1><p class="error">${escapeHtml(description)}</p>
<p class="muted">Return to the application and try again.</p>`,
  }
}

/**
 * RP-Initiated Logout §2: the question the OP asks before ending a session the request did not prove
 * it may end. One button, a POST to our own endpoint carrying the single-use form token.
 */
export function logoutConfirmationPage(input: {
  action: string
  token: string
  clientName?: string | undefined
}): Page {
  const who = input.clientName
    ? `${escapeHtml(input.clientName)} asks to sign you out.`
    : 'Do you want to sign out?'
  return {
    title: 'Sign out',
    body: `<h1>Sign out?</h1><p class="muted">${who} You will be signed out of every application that uses this account in this browser.</p>
<form method="post" action="${escapeHtml(input.action)}">
<input type="hidden" name="confirmation" value="${escapeHtml(input.token)}">
<button type="submit">Sign out</button>
</form>`,
  }
}

export function signedOutPage(): Page {
  return {
    title: 'Signed out',
    body: '<h1>You are signed out</h1><p class="muted">You may close this window.</p>',
  }
}

/** `form-action` source for a redirect target: its origin, or its scheme for custom-scheme URIs. */
export function formActionSource(uri: string): string | undefined {
  try {
    const url = new URL(uri)
    if (url.protocol === 'https:' || url.protocol === 'http:') return url.origin
    return /^[a-z][a-z0-9+.-]*:$/i.test(url.protocol) ? url.protocol : undefined
  } catch {
    return undefined
  }
}

/**
 * Renders a page with the security headers. `formTargets` are extra `form-action` sources: browsers
 * apply `form-action` to the redirect after a POST, so the client's redirect origin must be listed.
 */
export function htmlResponse(
  page: Page,
  status: number,
  options: { formTargets?: string[]; headers?: Headers } = {},
): Response {
  const nonce = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))))
  const formAction = ["'self'", ...(options.formTargets ?? [])].join(' ')
  const headers = options.headers ?? new Headers()
  headers.set('Content-Type', 'text/html; charset=utf-8')
  headers.set(
    'Content-Security-Policy',
    `default-src 'none'; style-src 'nonce-${nonce}'; form-action ${formAction}; frame-ancestors 'none'; base-uri 'none'`,
  )
  headers.set('X-Frame-Options', 'DENY')
  headers.set('X-Content-Type-Options', 'nosniff')
  headers.set('Referrer-Policy', 'no-referrer')
  headers.set('Cache-Control', 'no-store')
  headers.set('Pragma', 'no-cache')
  return new Response(layout(page, nonce), { status, headers })
}
