/**
 * The browser's DPoP key (RFC 9449 §2): one ES256 key pair per issuer and client, made by WebCrypto
 * with a NON-extractable private key and kept in IndexedDB, which stores the `CryptoKey` objects
 * themselves (structured clone), never their bytes. Script on the page can use the key while it runs,
 * but cannot read it out: a token copied out of the page (an XSS, a malicious extension reading
 * memory, a log) is useless elsewhere, because every use needs a fresh proof signed by this key.
 *
 * IndexedDB is per origin, so every tab of the app finds the same key, which is what lets tabs share
 * one token set (tab-sync.ts) and a reload keep the key its refresh token is bound to. Two tabs
 * creating the key at once: each makes a candidate, and one read-write transaction keeps whichever
 * was stored first (IndexedDB runs read-write transactions on a store one at a time).
 *
 * @example
 * const keys = indexedDbKeyStore()
 * const pair = await keys.load('https://auth.example.com|spa') // created on first use
 */

/** Where DPoP key pairs live; the browser default is IndexedDB. */
export interface DpopKeyStore {
  /** The stored key pair under `name`, created (non-extractable private key) when there is none. */
  load(name: string): Promise<CryptoKeyPair>
  /** Forgets the key pair (sign-out: the next sign-in gets a new key). */
  remove(name: string): Promise<void>
}

const DB_NAME = 'gatehouse-dpop'
const STORE = 'keys'

/**
 * A fresh P-256 key pair for ES256. The private key is not extractable; the public key always is
 * (WebCrypto makes public keys extractable whatever is asked), which the `jwk` header needs.
 *
 * @example const pair = await generateDpopKeyPair()
 */
export function generateDpopKeyPair(): Promise<CryptoKeyPair> {
  return crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, [
    'sign',
    'verify',
  ]) as Promise<CryptoKeyPair>
}

const isKeyPair = (value: unknown): value is CryptoKeyPair =>
  typeof value === 'object' &&
  value !== null &&
  (value as CryptoKeyPair).privateKey instanceof CryptoKey &&
  (value as CryptoKeyPair).publicKey instanceof CryptoKey

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result)
    req.onerror = () => reject(req.error ?? new Error('IndexedDB request failed'))
  })
}

function open(factory: IDBFactory): Promise<IDBDatabase> {
  const req = factory.open(DB_NAME, 1)
  req.onupgradeneeded = () => {
    if (!req.result.objectStoreNames.contains(STORE)) req.result.createObjectStore(STORE)
  }
  return request(req)
}

/** Keeps `candidate` under `name` unless a pair is there already; resolves the pair that stays. */
function keepFirst(
  db: IDBDatabase,
  name: string,
  candidate: CryptoKeyPair,
): Promise<CryptoKeyPair> {
  return new Promise((resolve, reject) => {
    const tx = db.transaction(STORE, 'readwrite')
    const store = tx.objectStore(STORE)
    let kept: CryptoKeyPair = candidate
    // Only IndexedDB requests inside the transaction: awaiting anything else would end it.
    const read = store.get(name)
    read.onsuccess = () => {
      if (isKeyPair(read.result)) kept = read.result
      else store.put(candidate, name)
    }
    tx.oncomplete = () => resolve(kept)
    tx.onerror = () => reject(tx.error ?? new Error('IndexedDB transaction failed'))
    tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'))
  })
}

/**
 * The IndexedDB store (the browser default).
 *
 * @example const pair = await indexedDbKeyStore().load(`${issuer}|${clientId}`)
 */
export function indexedDbKeyStore(factory: IDBFactory = globalThis.indexedDB): DpopKeyStore {
  return {
    async load(name) {
      const db = await open(factory)
      try {
        const found = await request(db.transaction(STORE).objectStore(STORE).get(name))
        if (isKeyPair(found)) return found
        return await keepFirst(db, name, await generateDpopKeyPair())
      } finally {
        db.close()
      }
    },
    async remove(name) {
      const db = await open(factory)
      try {
        await request(db.transaction(STORE, 'readwrite').objectStore(STORE).delete(name))
      } finally {
        db.close()
      }
    },
  }
}

/**
 * Keys held in memory only, for a page (or a test) without IndexedDB: DPoP still works, but the key,
 * and so a bound refresh token, lasts only as long as the page.
 *
 * @example const keys = memoryKeyStore()
 */
export function memoryKeyStore(): DpopKeyStore {
  const pairs = new Map<string, Promise<CryptoKeyPair>>()
  return {
    load(name) {
      let pair = pairs.get(name)
      if (pair === undefined) {
        pair = generateDpopKeyPair()
        pairs.set(name, pair)
      }
      return pair
    },
    async remove(name) {
      pairs.delete(name)
    },
  }
}
