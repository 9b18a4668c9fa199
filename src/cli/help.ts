import {type Config, Help, type Interfaces} from '@oclif/core'

/**
 * oclif's help with one change: text is passed through ejs only when it holds a template tag.
 * oclif compiles every summary it prints as an ejs template, which was a twentieth of a root
 * `--help` run (45 commands); ours hold no tags, a plugin's may, and those are still rendered.
 */
export default class HivemindHelp extends Help {
  constructor(config: Config, options?: Partial<Interfaces.HelpOptions>) {
    super(config, options)
    const renderTemplate = this.render
    this.render = (text: string) => (text.includes('<%') ? renderTemplate(text) : text)
  }
}
