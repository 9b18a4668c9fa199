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
    // A secret that is also one of our own words is masked here all the same: nothing in a debug line is our wording (QA).
    expect(redactDebugText("oclif:config runCommand list-clients [ '--redis-password', 'OpenVoiceOS' ] password", ['OpenVoiceOS', 'password'])).to.equal("oclif:config runCommand list-clients [ '--redis-password', '********' ] ********")
    expect(redactDebugText("argv: [ '--redis-url', 'redis://:password@h:1/0' ]", [])).to.equal("argv: [ '--redis-url', 'redis://:********@h:1/0' ]")
    expect(knownSecrets({}, ['node', 'run.js', 'add-client', '--access-key', 'key-given-here', '--crypto-key=0123456789abcdef', '--name', 'kitchen'])).to.have.members(['key-given-here', '0123456789abcdef'])
    expect(redactDebugText("ioredis:redis write command[127.0.0.1:6379]: 0 -> evalsha([ '07f0', '1', 'h:{hive}index', 'generated-key' ])", [])).to.equal('ioredis:redis write command[127.0.0.1:6379]: 0 -> evalsha(********)')
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

    it('add-client: neither the access key and crypto key given on the command line nor a generated access key appear', async () => {
      const given = ['--access-key', 'DebugAccessKey-5521', '--crypto-key', 'DebugCrypto-0042', '--password', 'DebugClientPw-9']
      const env = {DEBUG: '*', HIVEMIND_REDIS_PASSWORD: PASSWORD}
      const named = await sandbox.run(['add-client', '--db-backend', 'redis', '--redis-url', server.url, '--name', 'kitchen', ...given], {env})
      expect(named.code, named.stderr.slice(-2000)).to.equal(0)
      expect(named.stderr).to.contain('ioredis:redis write command')
      for (const secret of ['DebugAccessKey-5521', 'DebugCrypto-0042', 'DebugClientPw-9', PASSWORD]) expect(named.stderr, secret).not.to.contain(secret)
      const generated = await sandbox.run(['add-client', '--db-backend', 'redis', '--redis-url', server.url, '--name', 'office', '--json'], {env})
      expect(generated.code, generated.stderr.slice(-2000)).to.equal(0)
      const {api_key: key, password} = JSON.parse(generated.stdout) as {api_key: string; password: string}
      expect(generated.stderr).not.to.contain(key).and.not.to.contain(password)
    })
  })
})
