/**
 * Runs `task` over `items` as a fixed-size promise pool with at most `workers`
 * tasks in flight. Items start in order, and `shouldStop` is checked before each
 * start, so a stop lets the running tasks finish and starts no more.
 */
export async function runPool<T>(
  items: readonly T[],
  workers: number,
  task: (item: T, index: number) => Promise<void>,
  shouldStop: () => boolean = () => false,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length && !shouldStop()) {
      const index = next++;
      await task(items[index], index);
    }
  };
  const count = Math.max(1, Math.min(workers, items.length));
  await Promise.all(Array.from({ length: count }, worker));
}
