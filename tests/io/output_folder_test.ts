/** Output folders that a failed run removes again: only the ones it created, and only while empty. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { createOutputFolder, removeCreatedFolders, withOutputFolder } from "../../io/output_folder.ts";
import { tempDir } from "../prepare/helpers.ts";
import { exists } from "../kit.ts";

Deno.test("created nested folders are removed", async () => {
  const dir = await tempDir();
  const folder = await createOutputFolder(join(dir, "a/b/c"));
  assert.ok(exists(join(dir, "a/b/c")));
  await removeCreatedFolders(folder);
  assert.ok(!exists(join(dir, "a")), "every folder the call created is gone");
  assert.ok(exists(dir), "the folder that existed before is kept");
});

Deno.test("existing folder is never removed", async () => {
  const dir = await tempDir();
  await Deno.mkdir(join(dir, "out"));
  const folder = await createOutputFolder(join(dir, "out"));
  assert.deepEqual(folder.created, []);
  await removeCreatedFolders(folder);
  assert.ok(exists(join(dir, "out")));
});

Deno.test("created folder with a file is kept", async () => {
  const dir = await tempDir();
  const folder = await createOutputFolder(join(dir, "a/b"));
  await Deno.writeTextFile(join(dir, "a/b/result.txt"), "done");
  await removeCreatedFolders(folder);
  assert.ok(exists(join(dir, "a/b/result.txt")));
});

Deno.test("created parent with another file is kept", async () => {
  const dir = await tempDir();
  const folder = await createOutputFolder(join(dir, "a/b"));
  await Deno.writeTextFile(join(dir, "a/other.txt"), "written by someone else");
  await removeCreatedFolders(folder);
  assert.ok(!exists(join(dir, "a/b")), "the empty folder is removed");
  assert.ok(exists(join(dir, "a/other.txt")), "its parent, no longer empty, is kept");
});

Deno.test("withOutputFolder removes its folders when the work fails", async () => {
  const dir = await tempDir();
  await assert.rejects(
    withOutputFolder(join(dir, "a/b"), () => Promise.reject(new Error("model file not found"))),
    /model file not found/,
  );
  assert.ok(!exists(join(dir, "a")), "the folders it created are gone");
  assert.ok(exists(dir));
});

Deno.test("withOutputFolder keeps the folder and returns the result", async () => {
  const dir = await tempDir();
  const result = await withOutputFolder(join(dir, "out"), async () => {
    await Deno.writeTextFile(join(dir, "out/image.png"), "");
    return 3;
  });
  assert.equal(result, 3);
  assert.ok(exists(join(dir, "out/image.png")));
});

Deno.test("withOutputFolder names a folder it cannot create", async () => {
  const dir = await tempDir();
  await Deno.writeTextFile(join(dir, "file"), "");
  await assert.rejects(
    withOutputFolder(join(dir, "file/out"), () => Promise.resolve()),
    new RegExp(`${join(dir, "file/out")}: output folder cannot be created`),
  );
});
