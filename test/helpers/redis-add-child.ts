/**
 * A child process of the Redis concurrency test (R3): opens its own store (own connection),
 * prints "ready", waits for the barrier (a line on stdin, written to every child at once), then
 * adds one client and prints its id.
 * Usage: node --import tsx redis-add-child.ts <port> <keyPrefix> <name>
 */
import {once} from 'node:events'

import {RedisClientStore} from '../../src/plugins/redis/store.js'

const [port, keyPrefix, name] = process.argv.slice(2)
const store = new RedisClientStore({port: Number(port), keyPrefix: keyPrefix!})
await store.open()
process.stdout.write('ready\n')
await once(process.stdin, 'data')
const record = await store.add({api_key: `key-${name}`, name: name!})
process.stdout.write(`id ${record.client_id}\n`)
await store.close()
process.stdin.destroy()
