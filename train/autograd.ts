/**
 * The reverse-mode tape training records onto; it lives beside the kernels'
 * backward functions in kernels/grad/tape.ts, so networks can use it without
 * importing anything from train/.
 */
export * from "../kernels/grad/tape.ts";
