/**
 * The redis backend's registration (`hivemind:backends` hook). Cheap to import: ioredis and the
 * store are loaded only inside create() / probe(), when this backend is used.
 */
import type {Hook} from '@oclif/core'

import type {BackendDescriptor} from '../../core/store.js'
import {describeTarget, type RedisOptions, redisOptionsSchema, resolveTarget} from './options.js'
import {upstreamRedisPlugin} from './upstream.js'

export const redisBackend: BackendDescriptor<RedisOptions> = {
  name: 'redis',
  summary: 'Redis server (ioredis): a hash per client, atomic Lua scripts, keyPrefix to share a server',
  optionsSchema: redisOptionsSchema,
  describeLocation: (options) => describeTarget(resolveTarget(options)),
  // open() only reads (the layout marker and the persistence settings): a read-only command
  // connects once, not a probe connection and then the store's.
  readModeOpenCreatesNothing: true,
  upstream: upstreamRedisPlugin,
  async create(options, context) {
    const {RedisClientStore} = await import('./store.js')
    // A long-running process (listen) must survive a Redis restart: reconnect unless the operator
    // set the `reconnect` option explicitly.
    const policy = context.longRunning && options.reconnect === undefined ? {reconnect: true} : {}
    return new RedisClientStore(options, context, policy)
  },
  async diagnose(options) {
    const {diagnoseRedis} = await import('./diagnose.js')
    return diagnoseRedis(options)
  },
  async probe(options) {
    const {probeRedis} = await import('./probe.js')
    return probeRedis(options)
  },
}

const hook: Hook<'hivemind:backends'> = async () => [redisBackend as unknown as BackendDescriptor]
export default hook
