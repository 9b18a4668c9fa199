import {expect} from 'chai'

import {redactDebugText} from '../../src/cli/debug-redaction.js'
import {knownSecrets} from '../../src/cli/secret-values.js'
import {type RedisServer, startRedisServer} from '../helpers/redis-server.js'
import {type CliSandbox, createSandbox} from '../helpers/sandbox.js'

const PASSWORD = 'Debug-Secret-7731'

describe('DEBUG=* output is redacted', function () {
  this.timeout(60_000)

  it('masks credential commands, URL passwords and the secrets given in the environment or on the command line', () => {
    const secrets = knownSecrets({HIVEMIND_REDIS_PASSWORD: 'env-pass', HIVEMIND_DB_PATH: '/x', HIVEMIND_BACKUP_PASSPHRASE: 'pp'}, ['node', 'run.js', '--redis-password=flag-pass', '--db-option', 'token=tok-en', '--name', 'kitchen'])
    expect(secrets).to.have.members(['env-pass', 'flag-pass', 'tok-en'])
    expect(redactDebugText("ioredis:redis write command[127.0.0.1:6379]: 0 -> auth([ 'p@ss' ])", [])).to.equal('ioredis:redis write command[127.0.0.1:6379]: 0 -> auth(********)')
    expect(redactDebugText("argv: [ '--redis-url', 'redis://:pw@h:1/0' ]", [])).to.equal("argv: [ '--redis-url', 'redis://:********@h:1/0' ]")
    expect(redactDebugText('x env-pass y flag-pass', secrets)).to.equal('x ******** y ********')
  })

  describe('a real CLI run against a Redis with a password', () => {
    let server: RedisServer
    let sandbox: CliSandbox
    before(async () => {
      server = await startRedisServer({password: PASSWORD})
    })
    after(async () => server.stop())
    beforeEach(() => {
      sandbox = createSandbox()
    })
    afterEach(() => sandbox.cleanup())

    for (const inUrl of [false, true]) {
      it(`password ${inUrl ? 'in the URL on the command line' : 'from the environment'}: debug lines are printed, the password is not`, async () => {
        const url = inUrl ? server.url.replace('redis://', `redis://:${PASSWORD}@`) : server.url
        const env = inUrl ? {DEBUG: '*'} : {DEBUG: '*', HIVEMIND_REDIS_PASSWORD: PASSWORD}
        const result = await sandbox.run(['list-clients', '--db-backend', 'redis', '--redis-url', url], {env})
        expect(result.code, result.stderr.slice(-2000)).to.equal(0)
        expect(result.stderr).to.contain('ioredis:redis write command').and.contain('-> auth(********)')
        expect(result.stdout + result.stderr).not.to.contain(PASSWORD)
      })
    }
  })
})
