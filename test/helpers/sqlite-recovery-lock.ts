/**
 * Puts a WAL database into the state another process leaves it in while it runs WAL recovery
 * (SQLite's own crash recovery, slow on a busy or network disk): it holds the wal-index WRITE,
 * CHECKPOINT and RECOVER locks and the wal-index header is invalid. Every other connection then
 * gets SQLITE_BUSY_RECOVERY once its busy timeout runs out — reads included, which is the only
 * real lock a WAL reader waits for. (A second connection cannot simply take
 * `locking_mode=EXCLUSIVE`: every open WAL connection holds a SHARED lock on the database file,
 * so that attempt itself fails with SQLITE_BUSY.)
 *
 * The locks are POSIX record locks (fcntl), as SQLite's unix VFS takes them; Node cannot take
 * those, so a short python3 child holds them. Releasing leaves the header invalid, like a
 * recovering process that died: the next connection runs recovery itself from the WAL file.
 */
import {type ChildProcess, execFileSync, spawn} from 'node:child_process'

/** Offsets of the lock bytes in the -shm file (sqlite wal.c: 120 + WAL_WRITE/CKPT/RECOVER_LOCK). */
const LOCK_OFFSET = 120
const LOCK_COUNT = 3
/** The two copies of the wal-index header plus the checkpoint info (wal.c WALINDEX_HDR_SIZE). */
const HEADER_BYTES = 136

const HOLDER = `
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, ${LOCK_COUNT}, ${LOCK_OFFSET})
os.pwrite(fd, bytes(${HEADER_BYTES}), 0)
print('held', flush=True)
sys.stdin.readline()
`

export interface RecoveryLock {
  /** Ends the "recovery" (the child exits, its locks go with it). */
  release(): Promise<void>
}

/** True when python3 (needed to take fcntl locks) can run here. */
export function canHoldRecoveryLock(): boolean {
  try {
    execFileSync('python3', ['-c', 'import fcntl'], {stdio: 'ignore'})
    return true
  } catch {
    return false
  }
}

/** Takes the recovery locks on `<database>-shm`; resolves once they are held. */
export async function holdRecoveryLock(database: string): Promise<RecoveryLock> {
  const child: ChildProcess = spawn('python3', ['-c', HOLDER, `${database}-shm`], {stdio: ['pipe', 'pipe', 'pipe']})
  let stderr = ''
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve())
    child.once('exit', (code) => reject(new Error(`the lock holder exited (${code}): ${stderr}`)))
  })
  return {
    async release() {
      child.stdin!.end('\n')
      await exited
    },
  }
}
