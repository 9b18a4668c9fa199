/**
 * The public API of hivemind-core for plugin authors: the record, the store contract, the
 * backend descriptor, the errors and the reference store. The conformance suite is
 * `hivemind-core/testing`.
 */
export * from './core/client.js'
export * from './core/errors.js'
export type * from './core/store.js'
export {MemoryStore} from './core/memory-store.js'
export {ClientDatabase, generateSecret} from './core/database.js'
export type {AddClientRequest, ChangeResult, FlagField, ListField} from './core/database.js'
export {BackendRegistry} from './core/registry.js'
export type {BackendLoadFailure, RegisteredBackend} from './core/registry.js'
