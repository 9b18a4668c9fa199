/**
 * The CLI's help class: oclif's help, with ejs consulted only for text that holds a template tag.
 */
import {Config} from '@oclif/core'
import {expect} from 'chai'

import HivemindHelp from '../../src/cli/help.js'
import {ROOT, Sandbox} from '../helpers/cli.js'

describe('help', () => {
  it('renders template tags and leaves plain text exactly as it is', async () => {
    const help = new HivemindHelp(await Config.load(ROOT))
    expect(help.render('<%= config.bin %> list-clients --all')).to.equal('hivemind-core list-clients --all')
    // Text that merely looks like markup, or like a broken template without its opening tag, is not touched.
    const plain = 'Secrets are masked unless --show-secrets; %> <b>50%</b> ${HOME}'
    expect(help.render(plain)).to.equal(plain)
  })

  it('is the help the CLI prints: examples are rendered, summaries shown', async () => {
    const sandbox = Sandbox.create()
    try {
      const command = await sandbox.run(['list-clients', '--help'])
      expect(command.code, command.stderr).to.equal(0)
      expect(command.stdout).to.contain('$ hivemind-core list-clients --all')
      expect(command.stdout).not.to.contain('<%')
      const root = await sandbox.run(['--help'])
      expect(root.code, root.stderr).to.equal(0)
      expect(root.stdout).to.match(/list-clients\s+List the clients \(satellites\) of the hive\./)
      expect(root.stdout).to.match(/\n  help\s+Show help for hivemind-core/)
    } finally {
      sandbox.cleanup()
    }
  })

  it('the help command: the same text as --help, for a command or a topic command given as words; a mistake is one line, exit 2, no stack', async () => {
    const sandbox = Sandbox.create()
    try {
      const [viaHelp, viaFlag, topic, badFlag, unknownAndBadFlag] = await Promise.all([
        sandbox.run(['help', 'list-clients']),
        sandbox.run(['list-clients', '--help']),
        sandbox.run(['help', 'plugins', 'install']),
        sandbox.run(['help', 'list-clients', '--bogus']),
        // oclif's error handler once answered this with two stack traces (its own help, re-run for an unknown command).
        sandbox.run(['help', 'add-clint', '--json']),
      ])
      expect(viaHelp.code, viaHelp.stderr).to.equal(0)
      expect(viaHelp.stdout).to.equal(viaFlag.stdout)
      expect(topic.code, topic.stderr).to.equal(0)
      expect(topic.stdout).to.contain('$ hivemind-core plugins install PLUGIN')
      for (const result of [badFlag, unknownAndBadFlag]) {
        expect(result.code).to.equal(2)
        expect(result.stdout).to.equal('')
        expect(result.stderr).to.match(/^Error: Nonexistent flag: --(bogus|json)\nHint: see hivemind-core help --help\n$/)
      }
    } finally {
      sandbox.cleanup()
    }
  })
})
