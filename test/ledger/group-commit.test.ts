// Group commit: what arrives while a group's fsync runs is committed together next, one fsync each;
// nobody is answered before the fsync covering its commit has finished.
import { describe, expect, it } from 'vitest';
import { GroupCommit } from '../../src/ledger/group-commit.js';

function harness() {
  const commits: number[][] = [];
  const syncs: { done(): void }[] = [];
  const gc = new GroupCommit<number, string>(
    (items) => {
      commits.push(items);
      return items.map((i) => (i < 0 ? new Error(`bad ${i}`) : `ok ${i}`));
    },
    () => new Promise<void>((done) => syncs.push({ done })),
  );
  return { gc, commits, syncs };
}
const turn = () => new Promise((r) => setImmediate(r));

describe('GroupCommit', () => {
  it('commits what arrives during an fsync as one group, answered only after its own fsync', async () => {
    const { gc, commits, syncs } = harness();
    const answered: string[] = [];
    const first = [1, 2].map((i) => gc.submit(i).then((r) => answered.push(r)));
    await turn();
    expect(commits).toEqual([[1, 2]]);
    const second = [3, 4, 5].map((i) => gc.submit(i).then((r) => answered.push(r)));
    await turn();
    expect(commits).toEqual([[1, 2]]); // waiting for the first fsync
    expect(answered).toEqual([]);
    syncs[0].done();
    await Promise.all(first);
    await turn();
    expect(commits).toEqual([
      [1, 2],
      [3, 4, 5],
    ]);
    expect(answered).toEqual(['ok 1', 'ok 2']);
    syncs[1].done();
    await Promise.all(second);
    expect(answered).toEqual(['ok 1', 'ok 2', 'ok 3', 'ok 4', 'ok 5']);
    expect(syncs).toHaveLength(2);
  });

  it('rejects only the item whose commit failed, and everyone in a group whose fsync failed', async () => {
    const commits: number[][] = [];
    let failSync = false;
    const gc = new GroupCommit<number, string>(
      (items) => {
        commits.push(items);
        return items.map((i) => (i < 0 ? new Error(`bad ${i}`) : `ok ${i}`));
      },
      async () => {
        if (failSync) throw new Error('EIO');
      },
    );
    const results = await Promise.allSettled([gc.submit(1), gc.submit(-2), gc.submit(3)]);
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual(['ok 1', 'bad -2', 'ok 3']);
    failSync = true;
    const failed = await Promise.allSettled([gc.submit(4), gc.submit(5)]);
    expect(failed.map((r) => r.status === 'rejected' && (r.reason as Error).message)).toEqual(['EIO', 'EIO']);
    failSync = false;
    await expect(gc.submit(6)).resolves.toBe('ok 6'); // the loop goes on after a failure
  });
});
