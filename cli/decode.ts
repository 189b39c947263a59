/**
 * `cheff decode`: a latent stream to images (PNG, DICOM) or an image stream.
 */
import { CheffError } from "../io/errors.ts";
import { continueStream, readStream, type Stream } from "../io/stream.ts";
import { autoencoderFor, autoencoderPlugin } from "../plugins/autoencoder.ts";
import { downsamplingFactor } from "../stages/autoencoder/config.ts";
import { invertMask, type Mask, pasteKept, readMaskFile, toImageMask } from "../stages/latent/mask.ts";
import { choiceOption, type Command, COMMON_HELP, parseOptions, stringOption } from "./command.ts";
import { warn } from "./common.ts";
import { checkImageOutputs, readImageInputs, writeImageOutputs } from "./images.ts";
import { cliContext } from "./run_context.ts";

export const decodeCommand: Command = {
  name: "decode",
  summary: "decode latents to images",
  help: `Usage: cheff decode [LATENT|-] --model CKPT [--config JSON] [--out FILE|DIR] [--bits 8|16] [--format png|dicom]
                    [--paste ORIGINAL --mask MASK [--invert-mask]]

Decodes a latent stream (from a file, or standard input when LATENT is '-' or
absent) with the KL autoencoder.

Output:
  --out y.png          one PNG per image (y-0000.png, y-0001.png, … for a batch)
  --out DIR/           numbered images in an existing folder
  --out y.safetensors  an image stream [N, 3, H, W] in [-1, 1], unclamped
  (no --out)           an image stream on standard output
Images are clamped to [-1, 1] and written as 8-bit (or --bits 16) grayscale
(ITU-R 601 luma of the 3 channels), with text chunks that record provenance.
--format dicom writes DICOM Secondary Capture files (.dcm) instead.

Options:
  --model CKPT     autoencoder file
  --config JSON    config file ({embed_dim, ddconfig}); default: stored config or cheff-ae
  --bits 8|16      bits per sample of written images (default 8)
  --format png|dicom
  --paste ORIGINAL   after decoding, restore the kept pixels of ORIGINAL (the image that was
                     encoded and inpainted: an image file or image stream) exactly
  --mask MASK        the inpainting mask given to 'cheff diffuse' (black / 0 = kept); at the
                     latent's size it is repeated over each latent cell's pixels
  --invert-mask      the mask was used with 'cheff diffuse --invert-mask' (outpainting)
${COMMON_HELP}

Examples:
  cheff encode chest.png --model ae.pt | cheff decode --model ae.pt --out roundtrip.png
  cheff encode chest.png --model ae.pt | cheff diffuse - --model ldm.pt --mask m.png \\
    | cheff decode --model ae.pt --paste chest.png --mask m.png --out inpainted.png`,
  async run(args) {
    const parsed = parseOptions(
      "decode",
      args,
      {
        model: { type: "string" },
        config: { type: "string" },
        out: { type: "string" },
        bits: { type: "string" },
        format: { type: "string" },
        paste: { type: "string" },
        mask: { type: "string" },
        "invert-mask": { type: "boolean" },
      },
      1,
    );
    const model = stringOption(parsed, "model");
    if (!model) throw new CheffError("decode: --model is required (see cheff decode --help)");
    const bits = Number(choiceOption(parsed, "bits", ["8", "16"], "8")) as 8 | 16;
    const format = choiceOption(parsed, "format", ["png", "dicom"], "png");
    const paste = stringOption(parsed, "paste");
    const maskPath = stringOption(parsed, "mask");
    if ((paste === undefined) !== (maskPath === undefined)) {
      throw new CheffError("decode: --paste ORIGINAL and --mask MASK go together (see cheff decode --help)");
    }
    if (parsed.values["invert-mask"] === true && maskPath === undefined) {
      throw new CheffError("decode: --invert-mask needs --paste ORIGINAL --mask MASK");
    }
    const input = parsed.positionals[0] ?? "-";
    if (input === "-" && (paste === "-" || maskPath === "-")) {
      throw new CheffError("decode: standard input carries the latent stream; name --paste and --mask files");
    }

    const latent = await readStream(input, "latent");
    if (paste !== undefined) {
      // The stream records whether its mask was used as given or inverted; pasting with the other
      // reading would restore the synthesised region from the original and undo the edit.
      const painted = latent.history.filter((h) => h.command === "diffuse" && "inpainting" in h).at(-1)?.inpainting;
      const invert = parsed.values["invert-mask"] === true;
      if (painted === "outpaint" && !invert) {
        throw new CheffError("decode --paste: the latent was outpainted (diffuse --invert-mask); pass --invert-mask here too");
      }
      if (painted === "inpaint" && invert) {
        throw new CheffError("decode --paste: the latent was inpainted without --invert-mask; drop --invert-mask here");
      }
    }
    const output = { bits, format, overwrite: parsed.values.overwrite === true };
    checkImageOutputs(latent, stringOption(parsed, "out"), output);
    const context = await cliContext();
    const settings = { model, config: stringOption(parsed, "config") };
    // Read the original and the mask before decoding, so a bad file fails fast.
    const kept = paste !== undefined && maskPath !== undefined
      ? await readPasteInputs(paste, maskPath, parsed.values["invert-mask"] === true, latent, settings, context)
      : undefined;

    // A latent decoded by another autoencoder than the one that encoded it gives a meaningless image.
    const { sha256 } = await autoencoderFor(settings, context);
    const encodedBy = latent.models.autoencoder;
    if (encodedBy !== undefined && encodedBy !== sha256) {
      warn(
        `the latent was encoded by autoencoder sha256 ${encodedBy.slice(0, 12)}…, but --model ${model} is sha256 ${
          sha256.slice(0, 12)
        }…; decode with the autoencoder that encoded it`,
      );
    }
    let image = await autoencoderPlugin.run("decode", latent, settings, context);
    if (kept) image = pasteOriginal(image, kept.original, kept.mask, paste!);
    await writeImageOutputs(image, stringOption(parsed, "out"), output);
  },
};

/** Reads the original image at the decoded size and the mask at the image's size, for --paste. */
async function readPasteInputs(
  paste: string,
  maskPath: string,
  invert: boolean,
  latent: Stream,
  settings: { model: string; config?: string },
  context: Awaited<ReturnType<typeof cliContext>>,
): Promise<{ original: Stream; mask: Mask }> {
  const { model } = await autoencoderFor(settings, context);
  const factor = downsamplingFactor(model.config);
  const [, , height, width] = latent.tensor.shape;
  if (height !== width) {
    throw new CheffError(`decode --paste: the latent is ${width}×${height}; pasting needs square images (image files are centre-cropped squares)`);
  }
  const original = await readImageInputs([paste], {
    size: height * factor,
    channels: model.config.outChannels === 1 ? 1 : 3,
  });
  let mask = toImageMask(await readMaskFile(maskPath), { height, width, factor });
  if (invert) mask = invertMask(mask);
  return { original, mask };
}

/** Restores the original's kept pixels in the decoded images. */
function pasteOriginal(image: Stream, original: Stream, mask: Mask, paste: string): Stream {
  let data: Float32Array;
  try {
    data = pasteKept(image.tensor, original.tensor, mask);
  } catch (error) {
    if (error instanceof CheffError) throw new CheffError(`${paste}: ${error.message}`);
    throw error;
  }
  return continueStream(image, "image", { shape: image.tensor.shape, data }, { command: "paste" });
}
