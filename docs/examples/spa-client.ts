import { createGatehouseClient, type AuthState } from '@gatehouse/auth/client'

const auth = createGatehouseClient({
  issuer: 'https://auth.example.com',
  clientId: 'my-spa',
  redirectUri: `${location.origin}/callback`,
  postLogoutRedirectUri: `${location.origin}/`,
})

function render(state: AuthState): void {
  document.body.dataset.auth = state.status
}

auth.subscribe(render)
await auth.start(location.href) // handles /callback, or restores the session
const res = await auth.fetch('https://edge.example.com/api/orders')
console.log(res.status)
