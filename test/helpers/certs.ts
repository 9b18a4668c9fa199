/**
 * A throw-away PKI made with the real `openssl` for TLS tests (Redis over TLS, `listen --ssl`): a
 * CA, a server certificate it signed for 127.0.0.1 / localhost, and a second, unrelated CA whose
 * key does not match the server certificate (for "wrong CA" and "mismatched key" cases).
 */
import {execFileSync} from 'node:child_process'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import os from 'node:os'
import path from 'node:path'

export interface TestPki {
  dir: string
  /** The CA that signed the server certificate (PEM path). */
  ca: string
  /** A CA that signed nothing here; its key is `otherCaKey`. */
  otherCa: string
  otherCaKey: string
  /** Server certificate (SAN IP:127.0.0.1, DNS:localhost) and its key. */
  serverCert: string
  serverKey: string
  cleanup(): void
}

/** Generates the PKI in a fresh temp directory. Throws when openssl is missing. */
export function createTestPki(): TestPki {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hivemind-tls-'))
  try {
    const openssl = (...args: string[]) => execFileSync('openssl', args, {cwd: dir, stdio: 'pipe'})
    for (const ca of ['ca', 'other-ca']) {
      openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${ca}.key`, '-out', `${ca}.pem`, '-days', '2', '-subj', `/CN=hivemind test ${ca}`)
    }
    openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost')
    // Clients connect to 127.0.0.1: the name check needs it in the subjectAltName.
    writeFileSync(path.join(dir, 'san.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n')
    openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'san.cnf')
  } catch (error) {
    rmSync(dir, {recursive: true, force: true})
    throw error
  }
  return {
    dir,
    ca: path.join(dir, 'ca.pem'),
    otherCa: path.join(dir, 'other-ca.pem'),
    otherCaKey: path.join(dir, 'other-ca.key'),
    serverCert: path.join(dir, 'server.pem'),
    serverKey: path.join(dir, 'server.key'),
    cleanup: () => rmSync(dir, {recursive: true, force: true}),
  }
}
