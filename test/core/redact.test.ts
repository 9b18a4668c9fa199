import {expect} from 'chai'

import {maskUrlPassword, maskUrlSecrets} from '../../src/core/redact.js'

describe('redact', () => {
  it('maskUrlSecrets masks the password and every query value of a URL, and leaves other text alone', () => {
    expect(maskUrlSecrets('ws://bus:pw@127.0.0.1:8181/core?token=t0k&plain&v=1#frag')).to.equal('ws://bus:********@127.0.0.1:8181/core?token=********&plain&v=********#frag')
    expect(maskUrlSecrets('ws://127.0.0.1:8181/core')).to.equal('ws://127.0.0.1:8181/core')
    expect(maskUrlSecrets('not a url?x=1')).to.equal('not a url?x=1')
    // maskUrlPassword (what --switch compares against) still touches the password only.
    expect(maskUrlPassword('ws://bus:pw@h/core?token=t0k')).to.equal('ws://bus:********@h/core?token=t0k')
  })
})
