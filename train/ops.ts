/**
 * The differentiable kernel functions, with the kernels' own signatures, which
 * record onto the active tape. They live in kernels/grad/ops.ts, so the networks
 * can import them without importing anything from train/.
 */
export * from "../kernels/grad/ops.ts";
