/**
 * The Python hivemind-core's Redis plugin (`hivemind-redis-db-plugin`): the server it was given
 * in server.json is the server this backend connects to. Its keys are laid out differently, so
 * the clients it stored are not this hive's (docs/redis.md says so).
 */
import type {UpstreamDatabasePlugin} from '../../core/store.js'

/** server.json keys of the plugin's section that name the same thing as one of our options. */
const SAME_MEANING = ['host', 'port', 'db', 'username'] as const

export const upstreamRedisPlugin: UpstreamDatabasePlugin = {
  modules: ['hivemind-redis-db-plugin'],
  options(section) {
    const options: Record<string, unknown> = {}
    for (const key of SAME_MEANING) if (section[key] !== undefined && section[key] !== null) options[key] = section[key]
    // The plugin's default is "" (no password): not a password.
    if (typeof section.password === 'string' && section.password !== '') options.password = section.password
    return options
  },
}
