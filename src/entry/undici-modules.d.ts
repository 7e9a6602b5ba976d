/**
 * The two undici modules the Node origin's upstream client loads by path (node-upstream-fetch.ts:
 * not undici's index, which also loads its fetch, WebSocket, EventSource, cache and mocks). undici
 * 7 has no `exports` map, so the paths resolve; the types are its own.
 */
declare module 'undici/lib/dispatcher/agent.js' {
  import { Agent } from 'undici'
  export default Agent
}

declare module 'undici/lib/api/api-request.js' {
  import type { Dispatcher } from 'undici'
  /** `Dispatcher.prototype.request`, called with the dispatcher as `this`. */
  export default function request(
    this: Dispatcher,
    options: Dispatcher.RequestOptions,
  ): Promise<Dispatcher.ResponseData>
}
