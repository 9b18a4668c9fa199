/**
 * Hints of a store opened through a command's `--from-*` / `--to-*` flags (migrate-db, restore-db).
 * A store names the usual flags in its hints ("check the database path (--db-path, …)"), as every
 * other command takes them; there they would name a flag the command does not have, or the other
 * side's. Hints are rewritten on the way out rather than taught to every backend: a plugin's
 * store gets the same treatment without knowing about sides.
 */
import {isHivemindError} from '../core/errors.js'
import type {ClientStore} from '../core/store.js'

/** Which side of a two-store command: the source (`--from-*`) or the target (`--to-*`). */
export type FlagSide = 'from' | 'to'

/** The usual database flags and the name of each on a side: `--db-path` → `--to-path`, `--redis-url` → `--to-redis-url`. */
const SIDE_FLAGS = /--(?:db-(path|option)|(redis-(?:url|host|port|password|db|tls)))\b/g

/** `text` with the usual database flags named as this side's flags. */
export function sideFlagsIn(text: string, side: FlagSide): string {
  return text.replaceAll(SIDE_FLAGS, (_flag, generic: string | undefined, redis: string | undefined) => `--${side}-${generic ?? redis}`)
}

/** The error with its suggestion naming this side's flags (a HivemindError; anything else is returned as it is). */
export function withSideHint(error: unknown, side: FlagSide): unknown {
  if (!isHivemindError(error) || error.suggestion === undefined) return error
  const suggestion = sideFlagsIn(error.suggestion, side)
  // Replaced in place: the error keeps its class, code, exit code and cause.
  if (suggestion !== error.suggestion) Object.defineProperty(error, 'suggestion', {value: suggestion, enumerable: true, configurable: true})
  return error
}

/**
 * An error about this side's OPTIONS (an unknown key in `--to-option`, a bad `--to-redis-db`): its
 * message names the flag too, so both message and suggestion name this side's flags.
 */
export function withSideFlagNames(error: unknown, side: FlagSide): unknown {
  if (!isHivemindError(error)) return error
  const message = sideFlagsIn(error.message, side)
  if (message !== error.message) Object.defineProperty(error, 'message', {value: message, enumerable: false, configurable: true, writable: true})
  return withSideHint(error, side)
}

/**
 * The store, with every error its methods raise (listings included) passing through
 * {@link withSideHint}. Everything else is the store's own: properties, optional methods present
 * or absent as they are.
 */
export function withSideHints(store: ClientStore, side: FlagSide): ClientStore {
  const wrapped = new WeakMap<object, unknown>()
  return new Proxy(store, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target)
      if (typeof value !== 'function') return value
      if (!wrapped.has(value)) {
        wrapped.set(value, (...args: unknown[]) => {
          let result: unknown
          try {
            result = (value as (...args: unknown[]) => unknown).apply(target, args)
          } catch (error) {
            throw withSideHint(error, side)
          }
          if (result instanceof Promise) return result.catch((error: unknown) => Promise.reject(withSideHint(error, side)))
          if (isAsyncIterable(result)) return rethrowingWithSideHints(result, side)
          return result
        })
      }
      return wrapped.get(value)
    },
  })
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === 'object' && value !== null && Symbol.asyncIterator in value
}

/**
 * The listing as it is, its errors passing through {@link withSideHint}. An iterator of our own
 * rather than an async generator with `yield*`: a migration lists 100k records twice, and a
 * generator adds a round of promises per record.
 */
function rethrowingWithSideHints<T>(items: AsyncIterable<T>, side: FlagSide): AsyncIterable<T> {
  const rethrow = (error: unknown) => Promise.reject(withSideHint(error, side))
  return {
    [Symbol.asyncIterator]() {
      const iterator = items[Symbol.asyncIterator]()
      return {
        next: () => iterator.next().then(undefined, rethrow),
        return: async (value?: unknown) => (iterator.return ? iterator.return(value).then(undefined, rethrow) : {done: true as const, value: value as T}),
      }
    },
  }
}
