/**
 * Reading OAuth parameters from a query string or form body (both `URLSearchParams`). RFC 6749 §3.1:
 * parameters sent without a value are treated as omitted, and request parameters MUST NOT be included
 * more than once. Every value is length-capped so nothing unbounded reaches a record or a log.
 */
import { OAuthError } from './errors.ts'

export const MAX_PARAM_LENGTH = 4096

/** The names that occur more than once (RFC 6749 §3.1). */
export function repeatedParams(params: URLSearchParams): string[] {
  const seen = new Set<string>()
  const repeated = new Set<string>()
  for (const name of params.keys()) (seen.has(name) ? repeated : seen).add(name)
  return [...repeated]
}

/**
 * One parameter's value, or undefined when absent or empty. Throws `invalid_request` when repeated or
 * longer than `maxLength`.
 *
 * @example const code = param(form, 'code')
 */
export function param(
  params: URLSearchParams,
  name: string,
  maxLength = MAX_PARAM_LENGTH,
): string | undefined {
  const values = params.getAll(name)
  if (values.length > 1)
    throw new OAuthError('invalid_request', `The ${name} parameter is repeated.`)
  const value = values[0]
  if (value === undefined || value === '') return undefined
  if (value.length > maxLength)
    throw new OAuthError('invalid_request', `The ${name} parameter is too long.`)
  return value
}

/** Like {@link param}, but `invalid_request` when missing. */
export function requiredParam(params: URLSearchParams, name: string, maxLength?: number): string {
  const value = param(params, name, maxLength)
  if (value === undefined)
    throw new OAuthError('invalid_request', `The ${name} parameter is required.`)
  return value
}
