import {expect} from 'chai'

import {maskUrlPassword, maskUrlSecrets, stripUrlPassword} from '../../src/core/redact.js'

describe('redact', () => {
  it('maskUrlSecrets masks the password and every query value of a URL, and leaves other text alone', () => {
    expect(maskUrlSecrets('ws://bus:pw@127.0.0.1:8181/core?token=t0k&plain&v=1#frag')).to.equal('ws://bus:********@127.0.0.1:8181/core?token=********&plain&v=********#frag')
    expect(maskUrlSecrets('ws://127.0.0.1:8181/core')).to.equal('ws://127.0.0.1:8181/core')
    expect(maskUrlSecrets('not a url?x=1')).to.equal('not a url?x=1')
    // maskUrlPassword (what --switch compares against) still touches the password only.
    expect(maskUrlPassword('ws://bus:pw@h/core?token=t0k')).to.equal('ws://bus:********@h/core?token=t0k')
  })

  it('a raw @ or / in a password is masked and stripped whole, never shown in part', () => {
    const cases: Array<[string, string, string]> = [
      ['postgres://qa2:Qa@Leak99@127.0.0.1:5499/qa2', 'postgres://qa2:********@127.0.0.1:5499/qa2', 'postgres://qa2@127.0.0.1:5499/qa2'],
      ['postgres://qa:ab/LEAKcd@127.0.0.1/db', 'postgres://qa:********@127.0.0.1/db', 'postgres://qa@127.0.0.1/db'],
      ['redis://:p@ss/w@rd@host:6379/2', 'redis://:********@host:6379/2', 'redis://host:6379/2'],
      ['rediss://user:secret@host:6380', 'rediss://user:********@host:6380', 'rediss://user@host:6380'],
      ['redis://:secret@host', 'redis://:********@host', 'redis://host'],
      // An @ in the path must be percent-encoded, as for the drivers.
      ['postgres://u:pw@host/db%40x', 'postgres://u:********@host/db%40x', 'postgres://u@host/db%40x'],
      // No password: nothing to do, whatever the rest holds.
      ['postgres://user@host/db', 'postgres://user@host/db', 'postgres://user@host/db'],
      ['postgres://host:5432/db@x', 'postgres://host:5432/db@x', 'postgres://host:5432/db@x'],
      ['redis://host:6379/0?x=a@b', 'redis://host:6379/0?x=a@b', 'redis://host:6379/0?x=a@b'],
      ['/var/lib/clients.db', '/var/lib/clients.db', '/var/lib/clients.db'],
    ]
    for (const [url, masked, stripped] of cases) {
      expect(maskUrlPassword(url), url).to.equal(masked)
      expect(stripUrlPassword(url), url).to.equal(stripped)
    }
  })
})
