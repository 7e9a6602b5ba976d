/**
 * Permissions of the files an origin trusts at start — `GATEHOUSE_CONFIG` and `GATEHOUSE_KEYS_FILE`
 * (docs/keys.md, "Secret files"), checked by node-config.ts before anything is built:
 *
 * - group- or world-writable: refused. Whoever can write the config decides who gets tokens (a client
 *   and its redirect URI), and whoever can write the keys file can plant a key-encryption key;
 * - world-readable and holding secrets (private signing keys, key-encryption keys, user password
 *   hashes): a warning. The file still works; Kubernetes mounts Secrets 0644 unless `defaultMode`
 *   says otherwise (the overlay sets 0440).
 *
 * @example const { issue, warning } = fileModeProblems('GATEHOUSE_KEYS_FILE', 0o644, doc)
 */
import { stat } from 'node:fs/promises'
import type { ConfigIssue } from '../core/errors.ts'

/** Members of a JWK that make it secret (RFC 7518 §6.2.2, §6.3.2, §6.4.1, RFC 8037 §2). */
const SECRET_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']

/**
 * True when a parsed config or keys file holds something secret (see the file comment).
 *
 * @example holdsSecrets({ keys: [{ kty: 'EC', d: '…' }] }) // true
 */
export function holdsSecrets(doc: unknown): boolean {
  if (typeof doc !== 'object' || doc === null) return false
  const { keys, keyEncryptionKeys, users } = doc as Record<string, unknown>
  const anySecretMember = (list: unknown) =>
    Array.isArray(list) &&
    list.some(
      (k) => typeof k === 'object' && k !== null && SECRET_MEMBERS.some((m) => m in (k as object)),
    )
  const passwordHashes =
    Array.isArray(users) &&
    users.some((u) => typeof u === 'object' && u !== null && 'passwordHash' in u)
  return anySecretMember(keys) || anySecretMember(keyEncryptionKeys) || passwordHashes
}

/**
 * The file's mode from `fs.stat`, or undefined where modes mean nothing (Windows) or the file cannot
 * be stat-ed (its read fails with the path and reason instead).
 */
export async function fileMode(path: string): Promise<number | undefined> {
  if (process.platform === 'win32') return undefined
  try {
    return (await stat(path)).mode
  } catch {
    return undefined
  }
}

/**
 * What a file's mode means for `field` (its variable): an issue when group or others can write it, a
 * warning when every local user can read the secrets it holds.
 *
 * @example fileModeProblems('GATEHOUSE_CONFIG', 0o664, doc).issue?.message
 */
export function fileModeProblems(
  field: string,
  mode: number | undefined,
  doc: unknown,
): { issue?: ConfigIssue; warning?: ConfigIssue } {
  if (mode === undefined) return {}
  const octal = (mode & 0o777).toString(8).padStart(3, '0')
  if ((mode & 0o022) !== 0)
    return {
      issue: {
        field,
        message: `the file is writable by group or others (mode ${octal}): chmod go-w it`,
      },
    }
  if ((mode & 0o004) !== 0 && holdsSecrets(doc))
    return {
      warning: {
        field,
        message: `the file holds secrets and every local user can read it (mode ${octal}): chmod o-r it`,
      },
    }
  return {}
}
