/**
 * The public API of hivemind-core for plugin authors: the record and its helpers, the store
 * contract, the backend descriptor, the errors and the reference store. The conformance suite is
 * `hivemind-core/testing`. docs/writing-a-backend.md shows how they fit together.
 *
 * Errors are recognised by their `code` (and {@link isHivemindError}), not by class identity: a
 * plugin installed with `hivemind-core plugins install` may load its own copy of this package.
 */
export * from './core/client.js'
export * from './core/errors.js'
export type * from './core/store.js'
export {MemoryStore} from './core/memory-store.js'
export {assertStorableRecord} from './core/validate.js'
export {maskUrlPassword} from './core/redact.js'
export {ClientDatabase, generateSecret} from './core/database.js'
export type {AddClientRequest, ChangeResult, FlagField, ListField} from './core/database.js'
export {BackendRegistry} from './core/registry.js'
export type {BackendLoadFailure, RegisteredBackend, RegisterOptions} from './core/registry.js'
