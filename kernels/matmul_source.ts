/**
 * Generates the WGSL of the vec4 matmul entry points. Each invocation keeps a
 * rows × cols block of C in vec4 registers, so its code is the same statement
 * repeated per row and per column group. Generating it here keeps
 * kernels/wgsl/matmul.wgsl to the declarations, helpers and the scalar kernel.
 *
 * Entry points (see matmul.wgsl for the layouts each accepts):
 *   matmul_vec4, matmul_vec4_nt            8 × 8 blocks
 *   matmul_vec4_wide, matmul_vec4_nt_wide  32 × 32 blocks, for CPU adapters
 * The `_nt` forms read B contiguous along k (B's column n is a vec4 run over k).
 */
import { wgsl } from "./wgsl_source.ts";

/** One vec4 entry point: its name, block side (rows = columns) and B layout. */
interface Vec4Entry {
  name: string;
  block: number;
  /** B contiguous along k (linear's [O, K] weight, attention's keys) rather than along n. */
  nt: boolean;
}

export const VEC4_ENTRIES: readonly Vec4Entry[] = [
  { name: "matmul_vec4", block: 8, nt: false },
  { name: "matmul_vec4_wide", block: 32, nt: false },
  { name: "matmul_vec4_nt", block: 8, nt: true },
  { name: "matmul_vec4_nt_wide", block: 32, nt: true },
];

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** Joins statements, `per` to a line, each line starting with `indent`. */
function lines(statements: string[], per: number, indent = "  "): string {
  const out: string[] = [];
  for (let i = 0; i < statements.length; i += per) out.push(indent + statements.slice(i, i + per).join(" "));
  return out.join("\n");
}

/** Returns the WGSL of one vec4 entry point. */
export function vec4EntrySource({ name, block, nt }: Vec4Entry): string {
  const rows = range(block);
  // Column groups of four: the accumulators per row and, without nt, B's vec4 columns.
  const groups = range(block / 4);
  const bColumns = nt
    ? rows.map((j) => `let cb${j} = b_base + min(col0 + ${j}u, p.n - 1u) * p.b_col;`)
    : groups.map((j) => `let cb${j} = b_base + min(col0 + ${4 * j}u, p.n - 4u);`);
  const bComment = nt
    ? "  // columns of B (columns past N repeat column N − 1)."
    : "  // column groups in B (N is a multiple of 4, so a group past N repeats the last one).";
  // y_j: a 4 × 4 piece of B as matrix columns, for the four steps of k at kk.
  const y = nt
    ? groups.map((j) =>
      `let y${j} = mat4x4f(${range(4).map((i) => `b4[(cb${4 * j + i} + kk) >> 2u]`).join(", ")});`
    )
    : groups.map((j) =>
      `let y${j} = mat4x4f(${range(4).map((i) => `b4[(cb${j} + o${i}) >> 2u]`).join(", ")});`
    );
  const yComment = nt
    ? "// x_r: row r of A at k…k+3. y_j: columns 4j…4j+3 of B at k…k+3, as matrix columns."
    : "// x_r: row r of A at k…k+3. y_j: B's rows k…k+3 of column group j, as matrix columns.";
  const madd = nt ? "madd_nt" : "madd";
  const accumulators = rows.flatMap((r) => groups.map((j) => `c${r}_${j}`));
  // store_row8 and store_row32 in matmul.wgsl store one row of the block.
  const stores = rows.map((r) =>
    `store_row${block}(c_base, row0 + ${r}u, col0, s${r}.y, ${groups.map((j) => `c${r}_${j}`).join(", ")});`
  );

  return `@compute @workgroup_size(64)
fn ${name}(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let origin = block_origin(gid, groups, ${block}u, ${block}u);
  let row0 = origin.x;
  let col0 = origin.y;
  if (row0 >= p.m) { return; }
  let t = gid.z;
  let a_base = p.a_offset + t * p.a_batch;
  let b_base = p.b_offset + t * p.b_batch;

  // Element offsets of the block's rows of A (rows past M repeat row M − 1) and of its
${bComment}
${lines(rows.map((r) => `let ra${r} = a_base + min(row0 + ${r}u, p.m - 1u) * p.a_row;`), 2)}
${lines(bColumns, 2)}

  // Each row's softmax statistics (max, 1 / sum), or (0, 1) when A is used as it is.
${lines(rows.map((r) => `var s${r} = vec2f(0.0, 1.0);`), 4)}
  if (SOFTMAX_A) {
${lines(rows.map((r) => `s${r} = row_stats(t, row0 + ${r}u);`), 4, "    ")}
  }

${lines(accumulators.map((c) => `var ${c} = vec4f();`), 4)}
  for (var kk = 0u; kk < p.k; kk += 4u) {
    ${yComment}
${lines(rows.map((r) => `var x${r} = a4[(ra${r} + kk) >> 2u];`), 4, "    ")}
    if (SOFTMAX_A) {
${lines(rows.map((r) => `x${r} = exp(x${r} - s${r}.x);`), 4, "      ")}
    }
${nt ? "" : lines(range(4).map((i) => i === 0 ? "let o0 = kk * p.b_row;" : `let o${i} = o${i - 1} + p.b_row;`), 1, "    ") + "\n"}${lines(y, 1, "    ")}
${lines(rows.flatMap((r) => groups.map((j) => `c${r}_${j} = ${madd}(c${r}_${j}, x${r}, y${j});`)), 4, "    ")}
  }

  let c_base = p.c_offset + t * p.c_batch;
${lines(stores, 1)}
}`;
}

let source: string | undefined;

/** Returns matmul.wgsl with the generated vec4 entry points appended (built once). */
export function matmulSource(): string {
  source ??= [wgsl("matmul"), ...VEC4_ENTRIES.map(vec4EntrySource)].join("\n");
  return source;
}
