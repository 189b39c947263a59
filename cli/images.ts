/** Image inputs and outputs of the commands (see io/image/streams.ts). */
export * from "../io/image/streams.ts";
