/**
 * Redis options: URL parsing, precedence of explicit options over the URL, defaults, and
 * locations that never hold a password. No server needed.
 */
import {readFileSync} from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

import {expect} from 'chai'

import {redisBackend} from '../../../src/plugins/redis/index.js'
import {describeTarget, parseRedisUrl, type RedisOptions, resolveTarget} from '../../../src/plugins/redis/options.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..')
const options = (extra: Partial<RedisOptions>): RedisOptions => ({keyPrefix: 'hivemind:', ...extra})

describe('redis options', () => {
  it('defaults to 127.0.0.1:6379/0, prefix hivemind:, fail-fast, 2000 ms', () => {
    const target = resolveTarget(options({}))
    expect(target).to.deep.equal({host: '127.0.0.1', port: 6379, db: 0, keyPrefix: 'hivemind:', connectTimeoutMs: 2000, commandTimeoutMs: 10_000, reconnect: false})
    expect(redisBackend.describeLocation!(options({}))).to.equal('redis://127.0.0.1:6379/0 prefix hivemind:')
  })

  it('takes host, port, user, password and db from the URL; explicit options override each part', () => {
    const url = 'redis://alice:s%40cret@cache.example:7000/3'
    expect(resolveTarget(options({url}))).to.include({host: 'cache.example', port: 7000, db: 3, username: 'alice', password: 's@cret'})
    const overridden = resolveTarget(options({url, host: 'other', port: 7001, db: 4, password: 'explicit'}))
    expect(overridden).to.include({host: 'other', port: 7001, db: 4, username: 'alice', password: 'explicit'})
    // null means "unset": the URL's password still applies.
    expect(resolveTarget(options({url, password: null})).password).to.equal('s@cret')
  })

  it('rediss:// and the tls* files turn TLS on; tls: false turns it off', () => {
    expect(resolveTarget(options({url: 'rediss://h:1/0'})).tls).to.deep.equal({})
    expect(resolveTarget(options({tlsCa: '/ca.pem'})).tls).to.deep.equal({ca: '/ca.pem'})
    expect(resolveTarget(options({url: 'rediss://h:1/0', tls: false})).tls).to.equal(undefined)
    expect(describeTarget(resolveTarget(options({url: 'rediss://[::1]:6380/2'})))).to.equal('rediss://[::1]:6380/2 prefix hivemind:')
    // An empty prefix is said, not left as a trailing "prefix ".
    expect(describeTarget(resolveTarget(options({keyPrefix: ''})))).to.equal('redis://127.0.0.1:6379/0 prefix "" (none)')
  })

  it('never puts the password (or the user) in a location or an error', () => {
    const url = 'redis://bob:hunter2-secret@10.0.0.5:6390/1'
    const location = redisBackend.describeLocation!(options({url, password: 'other-secret'}))
    expect(location).to.equal('redis://10.0.0.5:6390/1 prefix hivemind:')
    for (const bad of ['redis://bob:hunter2-secret@host:notaport/0', 'http://bob:hunter2-secret@host/0', 'redis://bob:hunter2-secret@host/zero']) {
      expect(() => resolveTarget(options({url: bad}))).to.throw().that.satisfies((error: Error) => !error.message.includes('hunter2-secret'))
    }
    expect(parseRedisUrl('redis://:only-password@h').password).to.equal('only-password')
    expect(parseRedisUrl('redis://:p%25w%40d@h').password).to.equal('p%w@d')
    for (const url of ['redis://:Mal%ZZpw@h:1/0', 'redis://us%er:x@h']) {
      expect(() => parseRedisUrl(url), url).to.throw(/^the Redis URL's (password|user name) is not valid percent-encoding$/)
      try {
        parseRedisUrl(url)
      } catch (error) {
        expect(JSON.stringify(error), url).not.to.contain('Mal%ZZpw')
      }
    }
  })

  it('rejects out-of-range values with a clear message', () => {
    expect(() => resolveTarget(options({port: 70_000}))).to.throw(/port must be between 1 and 65535/)
    expect(() => resolveTarget(options({db: -1}))).to.throw(/database number/)
    expect(() => resolveTarget(options({connectTimeoutMs: 5}))).to.throw(/connectTimeoutMs/)
    expect(() => resolveTarget(options({commandTimeoutMs: 50}))).to.throw(/commandTimeoutMs must be at least 100/)
    expect(() => resolveTarget(options({keyPrefix: 'a b'}))).to.throw(/keyPrefix/)
  })

  it('refuses a database number past 2^31-1, from an option or a URL, instead of using database 0', () => {
    expect(resolveTarget(options({db: 2_147_483_647})).db).to.equal(2_147_483_647)
    expect(() => resolveTarget(options({db: 2_147_483_648}))).to.throw('the Redis database number must be between 0 and 2147483647, got 2147483648')
    expect(() => resolveTarget(options({url: 'redis://h:1/99999999999999999999999'}))).to.throw(/the Redis database number must be between 0 and 2147483647/)
  })

  it('refuses a URL with a query string or fragment (never read, never echoed) and points at percent-encoding', () => {
    for (const url of ['redis://h:1/0?password=s3cret', 'redis://u:s3cret@h:1/0#frag', 'redis://:pa#s3cret@h:6379/0', 'redis://:pa?s3cret@h:6379/0']) {
      let error: (Error & {suggestion?: string}) | undefined
      try {
        resolveTarget(options({url}))
      } catch (error_) {
        error = error_ as Error & {suggestion?: string}
      }
      expect(error, url).to.be.instanceOf(Error)
      expect(`${error!.message} ${error!.suggestion}`, url).not.to.contain('s3cret')
      expect(error!.suggestion, url).to.contain('# as %23')
    }
  })

  it('says what is wrong with a URL without a scheme, without a host, with a port out of range or a socket path (never echoing it)', () => {
    const cases: Array<[string, string, string | undefined]> = [
      ['127.0.0.1:6402', 'the Redis URL must start with redis:// (or rediss:// for TLS)', 'e.g. redis://127.0.0.1:6379/0, or give --redis-host and --redis-port instead'],
      ['localhost:6379', 'the Redis URL must start with redis:// (or rediss:// for TLS)', 'e.g. redis://127.0.0.1:6379/0, or give --redis-host and --redis-port instead'],
      ['redis://:6402/0', 'the Redis URL names no host', 'e.g. redis://127.0.0.1:6379/0 (a Unix socket is not supported: use host and port)'],
      ['redis://user:s3cret@:6402', 'the Redis URL names no host', 'e.g. redis://127.0.0.1:6379/0 (a Unix socket is not supported: use host and port)'],
      ['redis:///tmp/redis.sock', 'the Redis URL names no host', 'e.g. redis://127.0.0.1:6379/0 (a Unix socket is not supported: use host and port)'],
      ['redis://127.0.0.1:99999/0', "the Redis URL's port must be between 1 and 65535 (it is 99999)", undefined],
      ['redis://h:1/var/run/redis.sock', "the Redis URL's path must be a database number", 'a Unix socket is not supported: connect to the host and port Redis listens on'],
    ]
    for (const [url, message, suggestion] of cases) {
      let error: (Error & {suggestion?: string}) | undefined
      try {
        resolveTarget(options({url}))
      } catch (error_) {
        error = error_ as Error & {suggestion?: string}
      }
      expect(error?.message, url).to.match(new RegExp(`^${message.replaceAll(/[.*+?^${}()|[\]\\]/g, '\\$&')}`))
      expect(error?.suggestion, url).to.equal(suggestion)
      expect(`${error!.message} ${error!.suggestion}`).not.to.contain('s3cret')
    }
  })

  it('refuses an empty URL or host instead of falling back to the local server', () => {
    expect(() => resolveTarget(options({url: ''}))).to.throw('the Redis URL is empty')
    expect(() => resolveTarget(options({host: ''}))).to.throw('the Redis host is empty')
    expect(() => resolveTarget(options({url: 'redis://remote:7000/2', host: ''}))).to.throw('the Redis host is empty')
  })

  it('the schema marks the password secret and nullable, and keyPrefix defaults to "hivemind:"', () => {
    expect(redisBackend.optionsSchema.password).to.include({secret: true, nullable: true, type: 'string'})
    expect(redisBackend.optionsSchema.keyPrefix!.default).to.equal('hivemind:')
    expect(Object.keys(redisBackend.optionsSchema)).to.include.members(['url', 'host', 'port', 'username', 'password', 'db', 'keyPrefix', 'tls', 'tlsCa', 'tlsCert', 'tlsKey', 'connectTimeoutMs'])
    for (const key of ['tlsCa', 'tlsCert', 'tlsKey']) expect(redisBackend.optionsSchema[key]!.type).to.equal('path')
  })

  it('the registration module does not import ioredis (it is loaded by create()/probe() only)', () => {
    // Walks the static imports of the hook module; dynamic import() calls are allowed.
    const seen = new Set<string>()
    const visit = (file: string) => {
      if (seen.has(file)) return
      seen.add(file)
      const source = readFileSync(file, 'utf8')
      for (const match of source.matchAll(/^\s*(?:import|export)\s[^;]*?\sfrom\s+'([^']+)'/gm)) {
        const specifier = match[1]!
        if (/^import\s+type\s/.test(match[0].trim())) continue
        expect(specifier, `${path.relative(root, file)} imports ${specifier}`).not.to.match(/^(ioredis|typeorm|better-sqlite3)/)
        if (specifier.startsWith('.')) visit(path.resolve(path.dirname(file), specifier.replace(/\.js$/, '.ts')))
      }
    }
    visit(path.join(root, 'src/plugins/redis/index.ts'))
    expect(seen.size).to.be.greaterThan(1)
  })
})
