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
    } finally {
      sandbox.cleanup()
    }
  })
})
