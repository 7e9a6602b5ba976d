/**
 * The gateway's upstream for `npm run bench:http`: a bare `node:http` server that answers every request
 * 200 "ok" (after reading the request), so the gateway row measures Gatehouse's verify-and-forward
 * cost plus one extra loopback hop, not an application. Prints `{"listening":<port>}` when ready.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'

const server = createServer((req, res) => {
  req.resume()
  req.on('end', () => {
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': '2' })
    res.end('ok')
  })
})
server.keepAliveTimeout = 60_000
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  console.log(JSON.stringify({ listening: (server.address() as AddressInfo).port }))
})
process.once('SIGTERM', () => server.close(() => process.exit(0)))
