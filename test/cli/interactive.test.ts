/**
 * What a person at a terminal gets: a picker when NODE_ID is missing, a confirmation before a
 * revocation. The CLI runs under a real pseudo-terminal (util-linux `script`), and keys are typed
 * once the prompt is on screen.
 */
import {spawn} from 'node:child_process'
import {writeFileSync} from 'node:fs'
import path from 'node:path'

import {expect} from 'chai'

import {CLI, type CliSandbox, createSandbox} from '../helpers/sandbox.js'

interface Step {
  waitFor: string
  send: string
}

/** Runs the CLI on a pseudo-terminal, answering prompts; resolves with the screen output and exit code. */
function runInTerminal(sandbox: CliSandbox, args: string[], steps: Step[]): Promise<{code: number | null; screen: string}> {
  const command = [process.execPath, CLI, ...args].map((part) => `'${part.replaceAll("'", "'\\''")}'`).join(' ')
  const child = spawn('script', ['-qfec', command, '/dev/null'], {cwd: sandbox.home, env: {...sandbox.env, TERM: 'xterm'}, stdio: ['pipe', 'pipe', 'pipe']})
  let screen = ''
  const pending = [...steps]
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    screen += chunk
    const next = pending[0]
    if (next && screen.includes(next.waitFor)) {
      pending.shift()
      // Let the prompt finish drawing before typing.
      setTimeout(() => child.stdin.write(next.send), 100)
    }
  })
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000)
  return new Promise((resolve) => {
    child.on('close', (code) => {
      clearTimeout(timer)
      child.stdin.destroy()
      resolve({code, screen})
    })
  })
}

describe('interactive use on a terminal', () => {
  let sandbox: CliSandbox

  beforeEach(async () => {
    sandbox = createSandbox()
    for (const name of ['one', 'two']) expect((await sandbox.run(['add-client', '--name', name, '--quiet'])).code).to.equal(0)
  })

  afterEach(() => sandbox.cleanup())

  it('a missing NODE_ID opens a picker of the clients', async () => {
    const {code, screen} = await runInTerminal(sandbox, ['show-client', '--quiet'], [
      {waitFor: 'Which client?', send: '\u001B[B'},
      {waitFor: '2  two', send: '\r'},
    ])
    expect(code, screen).to.equal(0)
    expect(screen).to.contain('client 2 (two)')
  })

  it('delete-client asks first; "no" changes nothing (exit 1), "yes" revokes', async () => {
    const declined = await runInTerminal(sandbox, ['delete-client', '2', '--quiet'], [{waitFor: 'Revoke client 2 (two)?', send: 'n\r'}])
    expect(declined.code, declined.screen).to.equal(1)
    expect(declined.screen).to.contain('cancelled; nothing was changed')
    const live = JSON.parse((await sandbox.run(['list-clients', '--json', '--quiet'])).stdout) as Array<{client_id: number}>
    expect(live.map((record) => record.client_id)).to.deep.equal([1, 2])

    const accepted = await runInTerminal(sandbox, ['delete-client', '2', '--quiet'], [{waitFor: 'Revoke client 2 (two)?', send: 'y\r'}])
    expect(accepted.code, accepted.screen).to.equal(0)
    expect(accepted.screen).to.contain('Revoked client 2 (two)')
    const after = JSON.parse((await sandbox.run(['list-clients', '--json', '--quiet'])).stdout) as Array<{client_id: number}>
    expect(after.map((record) => record.client_id)).to.deep.equal([1])
  })

  it('Ctrl-C at a prompt: "Cancelled; nothing was changed.", exit 130, no internal error text', async () => {
    for (const args of [['show-client', '--quiet'], ['delete-client', '2', '--quiet']]) {
      const {code, screen} = await runInTerminal(sandbox, args, [{waitFor: args[0] === 'show-client' ? 'Which client?' : 'Revoke client 2 (two)?', send: '\u0003'}])
      expect(code, screen).to.equal(130)
      expect(screen).to.contain('Cancelled; nothing was changed.')
      expect(screen).not.to.match(/force closed|HIVEMIND_DEBUG|Error:/)
    }
    const live = JSON.parse((await sandbox.run(['list-clients', '--json', '--quiet'])).stdout) as Array<{client_id: number}>
    expect(live.map((record) => record.client_id)).to.deep.equal([1, 2])
  })

  it('the picker and the confirmation show a stored name escaped (an old clients.json may hold control characters)', async () => {
    const file = path.join(sandbox.root, 'old.json')
    // Two clients: with one, no picker is shown (the only client is meant).
    writeFileSync(file, JSON.stringify({1: {client_id: 1, api_key: 'old-key-0001', name: 'red\u001B[31mALERT\nsecond line'}, 2: {client_id: 2, api_key: 'old-key-0002', name: 'plain'}}))
    const flags = ['--db-backend', 'json', '--db-path', file, '--quiet']
    const picked = await runInTerminal(sandbox, ['show-client', ...flags], [{waitFor: 'Which client?', send: '\r'}])
    expect(picked.code, picked.screen).to.equal(0)
    expect(picked.screen).to.contain(String.raw`1  red\x1b[31mALERT\nsecond line`)
    const asked = await runInTerminal(sandbox, ['delete-client', '1', ...flags], [{waitFor: 'Revoke client 1', send: 'n\r'}])
    expect(asked.screen).to.contain(String.raw`Revoke client 1 (red\x1b[31mALERT\nsecond line)?`)
    for (const screen of [picked.screen, asked.screen]) expect(screen).not.to.contain('\u001B[31mALERT')
  })

  it('warns when the client is the only one left', async () => {
    expect((await sandbox.run(['delete-client', '2', '--yes', '--quiet'])).code).to.equal(0)
    const {screen} = await runInTerminal(sandbox, ['delete-client', '1', '--quiet'], [{waitFor: 'Revoke client 1 (one)?', send: 'n\r'}])
    expect(screen).to.contain('It is the ONLY client of this hive.')
  })
})
