/**
 * The image steps of preparation behind one small interface, so the runner can
 * be driven by another implementation (tests use this to fail on chosen files).
 * The default is cheff's own loader (PNG of any bit depth, JPEG, DICOM), its
 * antialiased resize with centre crop, and its JPEG encoder.
 */
import { encodeJpeg, grayTo8Bit } from "../io/image/jpeg.ts";
import { type GrayImage, loadImage } from "../io/image/load.ts";
import { resizeShortSideAndCenterCrop } from "../io/image/resize.ts";

export type { GrayImage };

export interface ImageCodec {
  /** Decodes a PNG, JPEG or DICOM file to gray values in [0, 1]. */
  load(path: string): Promise<GrayImage>;
  /** Resizes the shorter side to `size` and crops the centre square. */
  resizeAndCrop(image: GrayImage, size: number): GrayImage;
  /** Encodes an 8-bit grayscale JPEG at `quality` (1 to 100). */
  encode(image: GrayImage, quality: number): Uint8Array;
}

export const defaultCodec: ImageCodec = {
  load: loadImage,
  resizeAndCrop: resizeShortSideAndCenterCrop,
  encode: (image, quality) => encodeJpeg(grayTo8Bit(image), quality),
};
